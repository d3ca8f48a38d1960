/* Unit tests of the network loader: every connection rule, the CSR layout,
 * [defaults], id numbering, overrides, and the FILE:LINE of each error.
 * Networks are INI text parsed with npu_ini_load_string; only the file
 * rule needs a real (temporary) file. */
#include <math.h>
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

#include "inidoc.h"
#include "net.h"
#include "netload.h"

#define NAME "net.ini"
#define MAX_BYTES (UINT64_C(1) << 30)   /* independent of the machine's free memory */

/* Parses and builds text; returns the status, *out only on success. */
static int load_ov(const char *text, const struct npu_override *ov, size_t n_ov, struct npu_net **out,
                   struct npu_err *err)
{
    struct npu_ini *ini = NULL;
    *out = NULL;
    memset(err, 0, sizeof(*err));
    int rc = npu_ini_load_string(NAME, text, strlen(text), &ini, err);
    if (rc)
        return rc;
    struct npu_netload_opts opts = { .overrides = ov, .n_overrides = n_ov, .max_bytes = MAX_BYTES };
    struct npu_warnings warn = { 0 };
    rc = npu_netload_ini(ini, &opts, out, &warn, err);
    npu_warnings_free(&warn);
    npu_ini_free(ini);
    return rc;
}

static int load(const char *text, struct npu_net **out, struct npu_err *err)
{
    return load_ov(text, NULL, 0, out, err);
}

static struct npu_net *load_ok(const char *text)
{
    struct npu_net *net;
    struct npu_err err;
    int rc = load(text, &net, &err);
    if (rc)
        fail_msg("load failed (%d): %s", rc, err.msg);
    return net;
}

/* Every source's targets ascending (ties allowed), offsets monotone. */
static void assert_csr_sorted(const struct npu_net *net)
{
    assert_int_equal(net->syn_off[0], 0);
    assert_int_equal(net->syn_off[net->n_neurons], net->n_synapses);
    for (uint32_t s = 0; s < net->n_neurons; s++) {
        assert_true(net->syn_off[s] <= net->syn_off[s + 1]);
        for (uint32_t e = net->syn_off[s] + 1; e < net->syn_off[s + 1]; e++)
            assert_true((net->syn_target[e - 1] & NPU_SYN_TARGET_MASK) <=
                        (net->syn_target[e] & NPU_SYN_TARGET_MASK));
    }
}

static uint32_t tgt(const struct npu_net *net, uint32_t e)
{
    return net->syn_target[e] & NPU_SYN_TARGET_MASK;
}

/* err.msg starts with "where: " and contains fragment. */
static void expect_error(const char *text, int code, const char *where, const char *fragment)
{
    struct npu_net *net;
    struct npu_err err;
    int rc = load(text, &net, &err);
    assert_null(net);
    if (rc != code || strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, fragment))
        fail_msg("expected code %d, '%s...%s'; got %d: %s", code, where, fragment, rc, err.msg);
}

/* ------------------------------------------------------------------------ */

/* npu_net_area_wp: one weight | psp word over all of an area's synapses,
 * whatever their type; none for an area with two words or no synapses. */
static void test_area_wp(void **state)
{
    (void)state;
    struct npu_net *net = load_ok(
        "[area a]\nsize = 3x1x1\n"
        "[area b]\nsize = 2x1x1\n"
        "[area c]\nsize = 2x2x1\n"
        "[connect a -> b]\nrule = all_to_all\nweight = 5\npsp = 7\n"
        "[connect a -> c]\nrule = all_to_all\nweight = 5\npsp = 8\n"
        "[connect c -> a]\nrule = all_to_all\nweight = 9\npsp = 4\n"
        "[connect c -> b]\nrule = all_to_all\nweight = 9\npsp = 4\ntype = inhibitory\n");
    uint16_t wp = 0;
    assert_false(npu_net_area_wp(net, 0, &wp));
    assert_false(npu_net_area_wp(net, 1, &wp));
    assert_true(npu_net_area_wp(net, 2, &wp));
    assert_int_equal(wp, 9 | 4 << 8);
    npu_net_free(net);
}

/* all_to_all: S*T synapses, each source to every target in id order, with
 * the section's weight, psp and type. */
static void test_all_to_all(void **state)
{
    (void)state;
    struct npu_net *net = load_ok(
        "[area a]\nsize = 2x3x1\n"
        "[area b]\nsize = 4x1x1\n"
        "[area c]\nsize = 1x1x2\n"
        "[connect a -> b]\nrule = all_to_all\nweight = 5\npsp = 7\n"
        "[connect c -> a]\nrule = all_to_all\nweight = 255\npsp = 0\ntype = inhibitory\n");
    assert_int_equal(net->n_neurons, 12);
    assert_int_equal(net->n_synapses, 6 * 4 + 2 * 6);
    assert_csr_sorted(net);
    for (uint32_t s = 0; s < 6; s++) {
        assert_int_equal(net->syn_off[s + 1] - net->syn_off[s], 4);
        for (uint32_t k = 0; k < 4; k++) {
            uint32_t e = net->syn_off[s] + k;
            assert_int_equal(net->syn_target[e], 6 + k);
            assert_int_equal(net->syn_wp[e], 5 | 7 << 8);
        }
    }
    for (uint32_t s = 6; s < 10; s++)
        assert_int_equal(net->syn_off[s + 1] - net->syn_off[s], 0);
    for (uint32_t s = 10; s < 12; s++)
        for (uint32_t k = 0; k < 6; k++) {
            uint32_t e = net->syn_off[s] + k;
            assert_int_equal(net->syn_target[e], NPU_SYN_INHIBITORY | k);
            assert_int_equal(net->syn_wp[e], 255);
        }
    npu_net_free(net);
}

/* one_to_one: equal coordinates are paired; sizes must match per axis, not
 * just in count. */
static void test_one_to_one(void **state)
{
    (void)state;
    struct npu_net *net = load_ok(
        "[area a]\nsize = 3x2x2\n"
        "[area b]\nsize = 3x2x2\n"
        "[connect a -> b]\nrule = one_to_one\nweight = 1\npsp = 2\n");
    assert_int_equal(net->n_synapses, 12);
    for (uint32_t s = 0; s < 12; s++) {
        assert_int_equal(net->syn_off[s + 1] - net->syn_off[s], 1);
        uint32_t cs[3], ct[3];
        npu_net_coords(net, s, cs);
        npu_net_coords(net, tgt(net, net->syn_off[s]), ct);
        assert_int_equal(net->area_of[tgt(net, net->syn_off[s])], 1);
        assert_memory_equal(cs, ct, sizeof(cs));
    }
    npu_net_free(net);
    expect_error("[area a]\nsize = 3x2x2\n"
                 "[area b]\nsize = 6x2x1\n"
                 "[connect a -> b]\nrule = one_to_one\nweight = 1\npsp = 2\n",
                 NPU_E_INPUT, NAME ":5: ", "one_to_one needs equal sizes");
}

/* projector: on each axis, source coordinate x of S maps to the block
 * floor(x*D/S) .. ceil((x+1)*D/S)-1 of D (at least one); the targets are
 * the product of the three blocks; shrinking and growing axes both. */
static void check_projector(const char *sa, const uint32_t S[3], const char *sb, const uint32_t D[3])
{
    char text[512];
    snprintf(text, sizeof(text),
             "[area a]\nsize = %s\n[area b]\nsize = %s\n"
             "[connect a -> b]\nrule = projector\nweight = 3\npsp = 4\n", sa, sb);
    struct npu_net *net = load_ok(text);
    assert_csr_sorted(net);
    const uint32_t na = S[0] * S[1] * S[2], base_b = na, nb = D[0] * D[1] * D[2];
    uint32_t *covered = calloc(nb, sizeof(uint32_t));
    assert_non_null(covered);
    uint64_t total = 0;
    for (uint32_t s = 0; s < na; s++) {
        uint32_t c[3] = { s % S[0], (s / S[0]) % S[1], s / S[0] / S[1] };
        uint32_t lo[3], hi[3];
        for (int d = 0; d < 3; d++) {
            lo[d] = (uint32_t)floor((double)c[d] * D[d] / S[d]);
            int64_t h = (int64_t)ceil((double)(c[d] + 1) * D[d] / S[d]) - 1;
            hi[d] = h < (int64_t)lo[d] ? lo[d] : (uint32_t)h;
            assert_true(hi[d] < D[d]);
        }
        uint32_t e = net->syn_off[s];
        for (uint32_t z = lo[2]; z <= hi[2]; z++)
            for (uint32_t y = lo[1]; y <= hi[1]; y++)
                for (uint32_t x = lo[0]; x <= hi[0]; x++) {
                    uint32_t t = base_b + x + D[0] * (y + D[1] * z);
                    assert_true(e < net->syn_off[s + 1]);
                    assert_int_equal(net->syn_target[e], t);
                    assert_int_equal(net->syn_wp[e], 3 | 4 << 8);
                    covered[t - base_b]++;
                    e++;
                    total++;
                }
        assert_int_equal(e, net->syn_off[s + 1]);
    }
    assert_int_equal(total, net->n_synapses);
    for (uint32_t t = 0; t < nb; t++)
        assert_true(covered[t] > 0);
    free(covered);
    npu_net_free(net);
}

static void test_projector(void **state)
{
    (void)state;
    check_projector("6x1x1", (uint32_t[]){ 6, 1, 1 }, "4x1x1", (uint32_t[]){ 4, 1, 1 });
    check_projector("4x1x1", (uint32_t[]){ 4, 1, 1 }, "6x1x1", (uint32_t[]){ 6, 1, 1 });
    check_projector("5x3x2", (uint32_t[]){ 5, 3, 2 }, "2x4x3", (uint32_t[]){ 2, 4, 3 });
    check_projector("7x2x3", (uint32_t[]){ 7, 2, 3 }, "3x5x3", (uint32_t[]){ 3, 5, 3 });
    check_projector("1x1x1", (uint32_t[]){ 1, 1, 1 }, "3x2x2", (uint32_t[]){ 3, 2, 2 });
    /* 6 -> 4: source 1 (1*4/6 = 0.67 .. 2*4/6 = 1.33) reaches targets 0 and 1 */
    struct npu_net *net = load_ok("[area a]\nsize = 6x1x1\n[area b]\nsize = 4x1x1\n"
                                  "[connect a -> b]\nrule = projector\nweight = 1\npsp = 1\n");
    assert_int_equal(net->syn_off[2] - net->syn_off[1], 2);
    assert_int_equal(tgt(net, net->syn_off[1]), 6);
    assert_int_equal(tgt(net, net->syn_off[1] + 1), 7);
    npu_net_free(net);
}

/* Synapses of two loads of text compare equal (same targets, same wp). */
static bool same_synapses(const struct npu_net *a, const struct npu_net *b)
{
    return a->n_synapses == b->n_synapses &&
           memcmp(a->syn_off, b->syn_off, (a->n_neurons + 1) * sizeof(uint32_t)) == 0 &&
           memcmp(a->syn_target, b->syn_target, a->n_synapses * sizeof(uint32_t)) == 0 &&
           memcmp(a->syn_wp, b->syn_wp, a->n_synapses * sizeof(uint16_t)) == 0;
}

static const char *random_net(char *buf, size_t n, unsigned seed, const char *what)
{
    snprintf(buf, n,
             "[network]\nseed = %u\n[area a]\nsize = 10x4x1\n[area b]\nsize = 50x1x1\n"
             "[connect a -> b]\nrule = random\n%s\nweight = 2\npsp = 3\n", seed, what);
    return buf;
}

/* random fanout: exactly fanout distinct targets per source, in the target
 * area, ascending; the same for a seed, different for another; both the
 * sparse (4*fanout < T) and the dense path. */
static void test_random_fanout(void **state)
{
    (void)state;
    static const char *const what[] = { "fanout = 7", "fanout = 20", "fanout = 50", "fanout = 1" };
    static const uint32_t k[] = { 7, 20, 50, 1 };
    char text[512];
    for (int w = 0; w < 4; w++) {
        struct npu_net *n1 = load_ok(random_net(text, sizeof(text), 42, what[w]));
        struct npu_net *n2 = load_ok(random_net(text, sizeof(text), 42, what[w]));
        struct npu_net *n3 = load_ok(random_net(text, sizeof(text), 43, what[w]));
        assert_int_equal(n1->n_synapses, 40 * k[w]);
        for (uint32_t s = 0; s < 40; s++) {
            assert_int_equal(n1->syn_off[s + 1] - n1->syn_off[s], k[w]);
            for (uint32_t e = n1->syn_off[s]; e < n1->syn_off[s + 1]; e++) {
                assert_true(tgt(n1, e) >= 40 && tgt(n1, e) < 90);
                if (e > n1->syn_off[s])
                    assert_true(tgt(n1, e - 1) < tgt(n1, e));   /* distinct and sorted */
                assert_int_equal(n1->syn_wp[e], 2 | 3 << 8);
            }
        }
        assert_true(same_synapses(n1, n2));
        if (k[w] < 50)
            assert_false(same_synapses(n1, n3));
        else
            assert_true(same_synapses(n1, n3));   /* every target: nothing to draw */
        npu_net_free(n1);
        npu_net_free(n2);
        npu_net_free(n3);
    }
}

/* random fanout into a large area: every sort of the sparse path (33 to
 * 1024 targets by buckets, more by radix passes) gives distinct targets
 * in the area, ascending. */
static void test_random_fanout_sorts(void **state)
{
    (void)state;
    const uint32_t fanouts[] = { 33, 100, 1024, 1025, 2400 };
    char text[512];
    for (size_t f = 0; f < sizeof(fanouts) / sizeof(fanouts[0]); f++) {
        snprintf(text, sizeof(text),
                 "[network]\nseed = 9\n[area a]\nsize = 5x1x1\n[area b]\nsize = 100x100x1\n"
                 "[connect a -> b]\nrule = random\nfanout = %u\nweight = 1\npsp = 1\n",
                 fanouts[f]);
        struct npu_net *net = load_ok(text);
        assert_int_equal(net->n_synapses, 5 * fanouts[f]);
        assert_csr_sorted(net);
        for (uint32_t s = 0; s < 5; s++)
            for (uint32_t e = net->syn_off[s]; e < net->syn_off[s + 1]; e++) {
                assert_true(tgt(net, e) >= 5 && tgt(net, e) < 10005);
                if (e > net->syn_off[s])
                    assert_true(tgt(net, e - 1) < tgt(net, e));
            }
        npu_net_free(net);
    }
}

/* The fanout rule is generated over threads from 4M synapses on (each
 * source writes its own slice), and a network of one connection takes the
 * generated arrays over instead of copying them: the same synapses as one
 * thread and as the copying merge of several connections. */
static void test_random_fanout_threads(void **state)
{
    (void)state;
    static const char one[] =
        "[network]\nseed = 5\n[area a]\nsize = 300x150x1\n[area b]\nsize = 500x10x1\n"
        "[connect a -> b]\nrule = random\nfanout = 100\nweight = 2\npsp = 3\ntype = inhibitory\n";
    static const char two[] =
        "[network]\nseed = 5\n[area a]\nsize = 300x150x1\n[area b]\nsize = 500x10x1\n"
        "[connect a -> b]\nrule = random\nfanout = 100\nweight = 2\npsp = 3\ntype = inhibitory\n"
        "[connect b -> a]\nrule = random\nfanout = 1000\nweight = 1\npsp = 1\n";
    const char *const texts[] = { one, two };
    for (int t = 0; t < 2; t++) {
        setenv("NPUSIM_GEN_THREADS", "1", 1);
        struct npu_net *ref = load_ok(texts[t]);
        setenv("NPUSIM_GEN_THREADS", "3", 1);
        struct npu_net *par = load_ok(texts[t]);
        unsetenv("NPUSIM_GEN_THREADS");
        struct npu_net *dflt = load_ok(texts[t]);
        assert_int_equal(ref->n_synapses, 45000 * 100 + (t ? 5000 * 1000 : 0));
        assert_csr_sorted(par);
        assert_true(same_synapses(ref, par));
        assert_true(same_synapses(ref, dflt));
        assert_true(par->syn_target[0] & NPU_SYN_INHIBITORY);
        npu_net_free(ref);
        npu_net_free(par);
        npu_net_free(dflt);
    }
}

/* random probability: about p*S*T synapses, no repeats, deterministic for a
 * seed, different for another. */
static void test_random_probability(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof(text),
             "[network]\nseed = 9\n[area a]\nsize = 100x1x1\n[area b]\nsize = 20x10x1\n"
             "[connect a -> b]\nrule = random\nprobability = 0.1\nweight = 1\npsp = 1\n");
    struct npu_net *n1 = load_ok(text);
    struct npu_net *n2 = load_ok(text);
    text[strlen("[network]\nseed = ")] = '8';
    struct npu_net *n3 = load_ok(text);
    /* mean 2000, sd ~42: +-300 is beyond 7 sd */
    assert_true(n1->n_synapses > 1700 && n1->n_synapses < 2300);
    assert_true(n3->n_synapses > 1700 && n3->n_synapses < 2300);
    assert_csr_sorted(n1);
    for (uint32_t s = 0; s < 100; s++)
        for (uint32_t e = n1->syn_off[s] + 1; e < n1->syn_off[s + 1]; e++)
            assert_true(tgt(n1, e - 1) < tgt(n1, e));
    uint32_t per_source_nonempty = 0;
    for (uint32_t s = 0; s < 100; s++)
        per_source_nonempty += n1->syn_off[s + 1] > n1->syn_off[s];
    assert_true(per_source_nonempty > 90);
    assert_true(same_synapses(n1, n2));
    assert_false(same_synapses(n1, n3));
    npu_net_free(n1);
    npu_net_free(n2);
    npu_net_free(n3);
}

static char *write_tmp(const char *content)
{
    char *path = strdup("/tmp/npusim-test-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

static const char file_net_fmt[] =
    "[area a]\nsize = 3x1x1\n"
    "[area b]\nsize = 2x1x1\n"
    "[connect a -> b]\nrule = file\nfile = %s\n";

/* file rule: rows load into the CSR sorted by source then target (rows with
 * the same pair keep file order); types 1 / -1. */
static void test_file_rule(void **state)
{
    (void)state;
    char *csv = write_tmp("source,target,weight,psp,type\n"
                          "2,3,9,1,1\n"
                          "0,4,1,2,-1\n"
                          "\n"
                          "0,3,7,8,1\n"
                          " 2 , 3 , 10 , 11 , -1 \n"
                          "1,4,255,255,1\n");
    char text[512];
    snprintf(text, sizeof(text), file_net_fmt, csv);
    struct npu_net *net = load_ok(text);
    assert_int_equal(net->n_synapses, 5);
    assert_csr_sorted(net);
    static const uint32_t off[] = { 0, 2, 3, 5, 5, 5 };
    static const uint32_t t[] = { 3, NPU_SYN_INHIBITORY | 4, 4, 3, NPU_SYN_INHIBITORY | 3 };
    static const uint16_t wp[] = { 7 | 8 << 8, 1 | 2 << 8, 255 | 255 << 8, 9 | 1 << 8, 10 | 11 << 8 };
    assert_memory_equal(net->syn_off, off, sizeof(off));
    assert_memory_equal(net->syn_target, t, sizeof(t));
    assert_memory_equal(net->syn_wp, wp, sizeof(wp));
    npu_net_free(net);
    unlink(csv);
    free(csv);
}

/* file rule: a malformed row is an error naming the CSV's FILE:LINE. */
static void test_file_rule_errors(void **state)
{
    (void)state;
    static const struct { const char *csv; int line; const char *frag; } bad[] = {
        { "source,target,weight,psp,type\n0,3,1,1,1\n0,3,300,1,1\n", 3, "weight '300'" },
        { "source,target,weight,psp,type\n0,3,1,1\n", 2, "expected 5 fields" },
        { "source,target,weight,psp,type\n0,3,1,1,1,1\n", 2, "more than 5 fields" },
        { "source,target,weight,psp,type\n\n0,3,1,1,0\n", 3, "type '0'" },
        { "source,target,weight,psp,type\n3,3,1,1,1\n", 2, "source '3'" },     /* b's id */
        { "source,target,weight,psp,type\n0,2,1,1,1\n", 2, "target '2'" },     /* a's id */
        { "source,target,weight,psp,type\n0,x,1,1,1\n", 2, "target 'x'" },
        { "source,target,weight,psp,type\n0,3,1,-1,1\n", 2, "psp '-1'" },
        { "src,dst\n0,3\n", 1, "header" },
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        char *csv = write_tmp(bad[k].csv);
        char text[512], where[128];
        snprintf(text, sizeof(text), file_net_fmt, csv);
        snprintf(where, sizeof(where), "%s:%d: ", csv, bad[k].line);
        expect_error(text, NPU_E_INPUT, where, bad[k].frag);
        unlink(csv);
        free(csv);
    }
    /* a missing file is an I/O error at the section's line */
    expect_error("[area a]\nsize = 1x1x1\n[connect a -> a]\nrule = file\nfile = /nonexistent/x.csv\n",
                 NPU_E_IO, NAME ":3: ", "cannot open");
}

/* CSR: sources in id order; per source, targets merged across connections
 * in ascending order whatever the connection order, ties in file order. */
static void test_csr_merge(void **state)
{
    (void)state;
    struct npu_net *net = load_ok(
        "[area a]\nsize = 2x1x1\n[area b]\nsize = 3x1x1\n[area c]\nsize = 3x1x1\n"
        "[connect a -> c]\nrule = all_to_all\nweight = 1\npsp = 1\n"
        "[connect a -> b]\nrule = all_to_all\nweight = 2\npsp = 1\n"
        "[connect a -> b : again]\nrule = projector\nweight = 3\npsp = 1\n");
    assert_csr_sorted(net);
    /* projector 2 -> 3: source 0 -> {0,1}, source 1 -> {1,2} of b */
    static const uint32_t off[] = { 0, 8, 16, 16, 16, 16, 16, 16, 16 };
    static const uint32_t t[] = { 2, 2, 3, 3, 4, 5, 6, 7,
                                  2, 3, 3, 4, 4, 5, 6, 7 };
    static const uint8_t w[] = { 2, 3, 2, 3, 2, 1, 1, 1,
                                 2, 2, 3, 2, 3, 1, 1, 1 };
    assert_int_equal(net->n_synapses, 16);
    assert_memory_equal(net->syn_off, off, sizeof(off));
    assert_memory_equal(net->syn_target, t, sizeof(t));
    for (int e = 0; e < 16; e++)
        assert_int_equal(net->syn_wp[e], w[e] | 1 << 8);
    npu_net_free(net);
}

/* [defaults] applies to every area that does not set a key; built-in
 * defaults fill what neither sets; keep = 1.0f - leak in binary32. */
static void test_defaults(void **state)
{
    (void)state;
    struct npu_net *net = load_ok(
        "[defaults]\nthreshold = 2.5\nleak = 0.3\nrefractory = 3\nconsecutive_fire_limit = 4\n"
        "mp_charge_accumulation = false\n"
        "[area x]\nsize = 1x1x1\n"
        "[area y]\nsize = 1x1x1\nthreshold = 4\nrefractory = 0\nthreshold_limit = 9.5\n"
        "psp_uniform_distribution = false\n");
    const struct npu_area *x = &net->areas[0], *y = &net->areas[1];
    const volatile float leak = 0.3f;
    assert_true(x->threshold == 2.5f);
    assert_true(x->leak == 0.3f);
    assert_true(x->keep == 1.0f - leak);
    assert_int_equal(x->refractory, 3);
    assert_int_equal(x->cfl, 4);
    assert_false(x->accumulate);
    assert_false(x->has_limit);
    assert_true(x->excitability == 1.0f);
    assert_int_equal(x->snooze, 0);
    assert_false(x->power);
    assert_false(x->mp_driven_psp);
    assert_true(x->psp_uniform);
    assert_true(y->threshold == 4.0f);
    assert_true(y->keep == 1.0f - leak);
    assert_int_equal(y->refractory, 0);
    assert_int_equal(y->cfl, 4);
    assert_false(y->accumulate);
    assert_true(y->has_limit);
    assert_true(y->threshold_limit == 9.5f);
    assert_false(y->psp_uniform);
    npu_net_free(net);

    /* no [defaults]: the built-in ones */
    net = load_ok("[area z]\nsize = 1x1x1\n");
    const struct npu_area *z = &net->areas[0];
    assert_true(z->threshold == 1.0f);
    assert_true(z->keep == 1.0f);
    assert_true(z->excitability == 1.0f);
    assert_true(z->accumulate);
    assert_true(z->psp_uniform);
    assert_int_equal(z->refractory, 0);
    assert_int_equal(z->cfl, 0);
    npu_net_free(net);
}

/* Neuron parameters are parsed straight to binary32 (one rounding). */
static void test_params_strtof(void **state)
{
    (void)state;
    struct npu_net *net = load_ok("[area a]\nsize = 1x1x1\nthreshold = 0.1\nleak = 0.7\n"
                                  "excitability = 0.999\n");
    assert_true(net->areas[0].threshold == 0.1f);
    assert_true(net->areas[0].leak == 0.7f);
    const volatile float leak = 0.7f;
    assert_true(net->areas[0].keep == 1.0f - leak);
    assert_true(net->areas[0].excitability == 0.999f);
    npu_net_free(net);
}

/* Ids: areas numbered in file order, id = base + x + X*(y + Y*z).  Checked
 * through projectors onto 2x1x1, 1x3x1 and 1x1x4 areas, which pick out the
 * x, y and z of each source. */
static void test_id_numbering(void **state)
{
    (void)state;
    struct npu_net *net = load_ok(
        "[area p]\nsize = 3x2x2\n[area q]\nsize = 2x3x4\n"
        "[area ux]\nsize = 2x1x1\n[area uy]\nsize = 1x3x1\n[area uz]\nsize = 1x1x4\n"
        "[connect q -> ux]\nrule = projector\nweight = 1\npsp = 1\n"
        "[connect q -> uy]\nrule = projector\nweight = 1\npsp = 1\n"
        "[connect q -> uz]\nrule = projector\nweight = 1\npsp = 1\n");
    assert_int_equal(net->n_areas, 5);
    assert_int_equal(net->areas[0].base, 0);
    assert_int_equal(net->areas[1].base, 12);
    assert_int_equal(net->areas[2].base, 36);
    assert_int_equal(net->areas[3].base, 38);
    assert_int_equal(net->areas[4].base, 41);
    assert_int_equal(net->n_neurons, 45);
    assert_string_equal(net->areas[1].name, "q");
    for (uint32_t id = 0; id < 45; id++) {
        uint32_t a = id < 12 ? 0 : id < 36 ? 1 : id < 38 ? 2 : id < 41 ? 3 : 4;
        assert_int_equal(net->area_of[id], a);
    }
    for (uint32_t z = 0; z < 4; z++)
        for (uint32_t y = 0; y < 3; y++)
            for (uint32_t x = 0; x < 2; x++) {
                uint32_t id = 12 + x + 2 * (y + 3 * z);
                assert_int_equal(net->syn_off[id + 1] - net->syn_off[id], 3);
                assert_int_equal(tgt(net, net->syn_off[id]), 36 + x);
                assert_int_equal(tgt(net, net->syn_off[id] + 1), 38 + y);
                assert_int_equal(tgt(net, net->syn_off[id] + 2), 41 + z);
                uint32_t c[3];
                npu_net_coords(net, id, c);
                assert_int_equal(c[0], x);
                assert_int_equal(c[1], y);
                assert_int_equal(c[2], z);
            }
    npu_net_free(net);
}

/* Overrides (npu_ini_set, and the loader's overrides option) replace a
 * file's value or add a key or a whole section; an override's bad value is
 * reported as "--set ARG". */
static void test_overrides(void **state)
{
    (void)state;
    static const char text[] = "[area a]\nsize = 2x1x1\nthreshold = 3\n"
                               "[area b]\nsize = 1x1x1\n"
                               "[connect a -> b]\nrule = all_to_all\nweight = 1\npsp = 1\n";
    struct npu_ini *ini;
    struct npu_err err = { 0 };
    assert_int_equal(npu_ini_load_string(NAME, text, strlen(text), &ini, &err), NPU_OK);
    assert_int_equal(npu_ini_set(ini, "area a", "threshold", "7.5", "area a.threshold=7.5", &err), NPU_OK);
    assert_int_equal(npu_ini_set(ini, "area b", "leak", "0.25", "area b.leak=0.25", &err), NPU_OK);
    assert_int_equal(npu_ini_set(ini, "connect a -> b", "weight", "9", "connect a -> b.weight=9", &err), NPU_OK);
    /* A named section the file lacks is refused (a typo, not a new area);
     * a one-word section such as [defaults] may be added. */
    assert_int_equal(npu_ini_set(ini, "area c", "size", "3x1x1", "area c.size=3x1x1", &err), NPU_E_INPUT);
    assert_non_null(strstr(err.msg, "has no section [area c]"));
    assert_int_equal(npu_ini_set(ini, "defaults", "refractory", "4", "defaults.refractory=4", &err), NPU_OK);
    struct npu_netload_opts opts = { .max_bytes = MAX_BYTES };
    struct npu_net *net;
    assert_int_equal(npu_netload_ini(ini, &opts, &net, NULL, &err), NPU_OK);
    npu_ini_free(ini);
    assert_true(net->areas[0].threshold == 7.5f);
    assert_true(net->areas[1].keep == 0.75f);
    assert_int_equal(net->n_areas, 2);
    assert_int_equal(net->areas[0].refractory, 4);  /* from the added [defaults] */
    assert_int_equal(net->n_neurons, 3);
    assert_int_equal(net->syn_wp[0], 9 | 1 << 8);
    npu_net_free(net);

    /* the same through opts.overrides */
    const struct npu_override ov[] = {
        { "area a", "threshold", "7.5", "area a.threshold=7.5" },
        { "area b", "threshold_limit", "8", "area b.threshold_limit=8" },
    };
    assert_int_equal(load_ov(text, ov, 2, &net, &err), NPU_OK);
    assert_true(net->areas[0].threshold == 7.5f);
    assert_true(net->areas[1].has_limit);
    assert_true(net->areas[1].threshold_limit == 8.0f);
    npu_net_free(net);

    const struct npu_override bad[] = { { "area a", "threshold", "abc", "network.area a.threshold=abc" } };
    assert_int_equal(load_ov(text, bad, 1, &net, &err), NPU_E_INPUT);
    assert_null(net);
    assert_non_null(strstr(err.msg, "--set network.area a.threshold=abc: "));
    assert_non_null(strstr(err.msg, "not a number"));
    const struct npu_override unk[] = { { "area a", "thresold", "1", "network.area a.thresold=1" } };
    assert_int_equal(load_ov(text, unk, 1, &net, &err), NPU_E_INPUT);
    assert_non_null(strstr(err.msg, "unknown key 'thresold'"));
}

/* Errors: the status and "NAME:LINE: " with the offending line. */
static void test_errors(void **state)
{
    (void)state;
    static const struct { const char *text; int code; const char *where, *frag; } cases[] = {
        { "[area a]\nsize = 1x1x1\n[arena b]\nsize = 1x1x1\n",
          NPU_E_INPUT, NAME ":3: ", "unknown section [arena b]" },
        { "[area a]\nsize = 1x1x1\nthreshhold = 2\n",
          NPU_E_INPUT, NAME ":3: ", "unknown key 'threshhold'" },
        { "[area a]\nsize = 1x1x1\n\n[area a]\nsize = 2x1x1\n",
          NPU_E_INPUT, NAME ":4: ", "duplicate section [area a] (first at line 1)" },
        { "[area a]\nsize = 1x1x1\nleak = 0.1\nleak = 0.2\n",
          NPU_E_INPUT, NAME ":4: ", "duplicate key 'leak'" },
        { "[area a]\nsize = 1x1x1\nthreshold = 1.5x\n",
          NPU_E_INPUT, NAME ":3: ", "not a number" },
        { "[area a]\nsize = 1x1x1\n[area b]\nsize = 1x1x1\n[connect a -> b]\nrule = all_to_all\n"
          "weight = 300\npsp = 1\n",
          NPU_E_INPUT, NAME ":7: ", "weight: 300 is out of range 0..255" },
        { "[area a]\nsize = 2x-1x1\n",
          NPU_E_INPUT, NAME ":2: ", "negative" },
        { "[area a]\nsize = -2x1x1\n",
          NPU_E_INPUT, NAME ":2: ", "negative" },
        { "[area a]\nsize = 1x1x1\nleak = 2\n",
          NPU_E_INPUT, NAME ":3: ", "leak: 2 is out of range" },
        { "[area a]\nsize = 1x1x1\nthreshold = nan\n",
          NPU_E_INPUT, NAME ":3: ", "not a finite number" },
        { "[defaults]\nthreshold = NaN\n[area a]\nsize = 1x1x1\n",
          NPU_E_INPUT, NAME ":2: ", "not a finite number" },
        { "[area a]\nsize = 1x1x1\nthreshold = inf\n",
          NPU_E_INPUT, NAME ":3: ", "not a finite number" },
        { "[area a]\nsize = 100000x100000x100000\n",
          NPU_E_INPUT, NAME ":2: ", "more than" },
        { "[area a]\nsize = 50000x50000x1\n",
          NPU_E_INPUT, NAME ":2: ", "more than" },
        { "[area a]\nsize = 40000x40000x1\n[area b]\nsize = 40000x40000x1\n",
          NPU_E_INPUT, NAME ":4: ", "exceeds" },
        { "[area a]\nsize = 0x1x1\n",
          NPU_E_INPUT, NAME ":2: ", "is 0" },
        { "[network]\nname = empty\n",
          NPU_E_INPUT, NAME ": ", "no [area NAME] sections" },
        { "",
          NPU_E_INPUT, NAME ": ", "no [area NAME] sections" },
        { "[area a]\nthreshold = 1\n",
          NPU_E_INPUT, NAME ":1: ", "needs `size = XxYxZ`" },
        { "[area a]\nsize = 1x1x1\n[connect a -> nowhere]\nrule = all_to_all\nweight = 1\npsp = 1\n",
          NPU_E_INPUT, NAME ":3: ", "no area 'nowhere'" },
        { "[area a]\nsize = 1x1x1\n[connect nowhere -> a]\nrule = all_to_all\nweight = 1\npsp = 1\n",
          NPU_E_INPUT, NAME ":3: ", "no area 'nowhere'" },
        { "[area a]\nsize = 1x1x1\n[connect a -> a]\nrule = some\nweight = 1\npsp = 1\n",
          NPU_E_INPUT, NAME ":4: ", "unknown rule 'some'" },
        { "[area a]\nsize = 4x1x1\n[connect a -> a]\nrule = random\nfanout = 5\nweight = 1\npsp = 1\n",
          NPU_E_INPUT, NAME ":5: ", "fanout" },
        { "[area a]\nsize = 4x1x1\n[connect a -> a]\nrule = random\nprobability = 1.5\nweight = 1\npsp = 1\n",
          NPU_E_INPUT, NAME ":5: ", "probability" },
        { "[area a]\nsize = 1x1x1\nexcitability = 1.01\n",
          NPU_E_INPUT, NAME ":3: ", "excitability" },
        { "[area a]\nsize = 1x1x1\nrefractory = 65536\n",
          NPU_E_INPUT, NAME ":3: ", "refractory" },
        { "[area a]\nsize = 1x1x1\npower = maybe\n",
          NPU_E_INPUT, NAME ":3: ", "not a boolean" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        expect_error(cases[k].text, cases[k].code, cases[k].where, cases[k].frag);
}

/* Building is deterministic: the same text gives the same digest, a
 * changed parameter a different one. */
static void test_digest(void **state)
{
    (void)state;
    struct npu_net *a = load_ok("[area a]\nsize = 4x1x1\n[connect a -> a]\nrule = random\nfanout = 2\n"
                                "weight = 1\npsp = 1\n");
    struct npu_net *b = load_ok("[area a]\nsize = 4x1x1\n[connect a -> a]\nrule = random\nfanout = 2\n"
                                "weight = 1\npsp = 1\n");
    struct npu_net *c = load_ok("[area a]\nsize = 4x1x1\nleak = 0.5\n[connect a -> a]\nrule = random\n"
                                "fanout = 2\nweight = 1\npsp = 1\n");
    assert_int_equal(a->digest, b->digest);
    assert_int_not_equal(a->digest, c->digest);
    npu_net_free(a);
    npu_net_free(b);
    npu_net_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_to_all),
        cmocka_unit_test(test_area_wp),
        cmocka_unit_test(test_one_to_one),
        cmocka_unit_test(test_projector),
        cmocka_unit_test(test_random_fanout),
        cmocka_unit_test(test_random_fanout_threads),
        cmocka_unit_test(test_random_fanout_sorts),
        cmocka_unit_test(test_random_probability),
        cmocka_unit_test(test_file_rule),
        cmocka_unit_test(test_file_rule_errors),
        cmocka_unit_test(test_csr_merge),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_params_strtof),
        cmocka_unit_test(test_id_numbering),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
