#include "netload.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "connect.h"
#include "value.h"

/* Neuron parameters when neither the area nor [defaults] sets them. */
static const struct npu_area builtin_defaults = {
    .threshold = 1.0f,
    .threshold_limit = 0.0f,
    .has_limit = false,
    .leak = 0.0f,
    .keep = 1.0f,
    .excitability = 1.0f,
    .refractory = 0,
    .cfl = 0,
    .snooze = 0,
    .accumulate = true,
    .power = false,
    .mp_driven_psp = false,
    .psp_uniform = true,
};

struct loader {
    struct npu_ini *ini;
    struct npu_net *net;
    struct npu_err *err;
    struct npu_warnings *warn;
    struct npu_conn_spec *conns;
    uint32_t n_conns;
};

#define FAIL_KV(L, sec, kv, ...) npu_ini_error((L)->err, (L)->ini, sec, kv, __VA_ARGS__)

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= NPU_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* Reads the neuron keys present in sec into a (which starts as the defaults). */
static int neuron_keys(struct loader *L, struct npu_ini_section *sec, struct npu_area *a)
{
    char why[NPU_WHY_MAX];
    struct npu_ini_kv *kv;
    uint32_t u;

    if ((kv = npu_ini_get(sec, "threshold")) &&
        npu_value_f32(kv->value, -1e30, 1e30, &a->threshold, why))
        return FAIL_KV(L, sec, kv, "threshold: %s", why);
    if ((kv = npu_ini_get(sec, "threshold_limit"))) {
        if (strcmp(kv->value, "none") == 0) {
            a->has_limit = false;
        } else {
            if (npu_value_f32(kv->value, -1e30, 1e30, &a->threshold_limit, why))
                return FAIL_KV(L, sec, kv, "threshold_limit: %s (or `none`)", why);
            a->has_limit = true;
        }
    }
    if ((kv = npu_ini_get(sec, "leak")) && npu_value_f32(kv->value, 0.0, 1.0, &a->leak, why))
        return FAIL_KV(L, sec, kv, "leak: %s", why);
    if ((kv = npu_ini_get(sec, "excitability")) &&
        npu_value_f32(kv->value, 0.0, 1.0, &a->excitability, why))
        return FAIL_KV(L, sec, kv, "excitability: %s", why);
    if ((kv = npu_ini_get(sec, "refractory"))) {
        if (npu_value_u32(kv->value, 0, UINT16_MAX, &u, why))
            return FAIL_KV(L, sec, kv, "refractory: %s", why);
        a->refractory = (uint16_t)u;
    }
    if ((kv = npu_ini_get(sec, "consecutive_fire_limit"))) {
        if (npu_value_u32(kv->value, 0, UINT16_MAX, &u, why))
            return FAIL_KV(L, sec, kv, "consecutive_fire_limit: %s", why);
        a->cfl = (uint16_t)u;
    }
    if ((kv = npu_ini_get(sec, "snooze"))) {
        if (npu_value_u32(kv->value, 0, UINT16_MAX, &u, why))
            return FAIL_KV(L, sec, kv, "snooze: %s", why);
        a->snooze = (uint16_t)u;
    }
    if ((kv = npu_ini_get(sec, "mp_charge_accumulation")) &&
        npu_value_bool(kv->value, &a->accumulate, why))
        return FAIL_KV(L, sec, kv, "mp_charge_accumulation: %s", why);
    if ((kv = npu_ini_get(sec, "mp_driven_psp")) && npu_value_bool(kv->value, &a->mp_driven_psp, why))
        return FAIL_KV(L, sec, kv, "mp_driven_psp: %s", why);
    if ((kv = npu_ini_get(sec, "psp_uniform_distribution")) &&
        npu_value_bool(kv->value, &a->psp_uniform, why))
        return FAIL_KV(L, sec, kv, "psp_uniform_distribution: %s", why);
    return NPU_OK;
}

static int load_area(struct loader *L, struct npu_ini_section *sec, const char *name,
                     const struct npu_area *defaults, uint64_t *next_base)
{
    struct npu_net *net = L->net;
    if (!valid_name(name))
        return FAIL_KV(L, sec, NULL,
                       "area name '%s' must be 1-%d letters, digits, '_' or '-'", name, NPU_NAME_MAX - 1);
    if (npu_net_area_index(net, name) >= 0)
        return FAIL_KV(L, sec, NULL, "area '%s' is defined twice", name);
    if (net->n_areas == NPU_MAX_AREAS)
        return FAIL_KV(L, sec, NULL, "more than %u areas", NPU_MAX_AREAS);

    struct npu_area a = *defaults;
    snprintf(a.name, sizeof(a.name), "%s", name);
    char why[NPU_WHY_MAX];
    struct npu_ini_kv *kv = npu_ini_get(sec, "size");
    if (!kv)
        return FAIL_KV(L, sec, NULL, "[area %s] needs `size = XxYxZ`", name);
    if (npu_value_size(kv->value, NPU_MAX_NEURONS, a.dim, why))
        return FAIL_KV(L, sec, kv, "%s", why);
    a.count = a.dim[0] * a.dim[1] * a.dim[2];
    if (*next_base + a.count > NPU_MAX_NEURONS)
        return FAIL_KV(L, sec, kv, "the network exceeds %u neurons", NPU_MAX_NEURONS);
    a.base = (uint32_t)*next_base;
    *next_base += a.count;
    if ((kv = npu_ini_get(sec, "power")) && npu_value_bool(kv->value, &a.power, why))
        return FAIL_KV(L, sec, kv, "power: %s", why);
    int rc = neuron_keys(L, sec, &a);
    if (rc)
        return rc;
    a.keep = 1.0f - a.leak;
    if (a.has_limit && a.threshold_limit < a.threshold)
        npu_warn(L->warn, "%s:%d: warning: [area %s] threshold_limit %g is below threshold %g: it never fires",
                 L->ini->path, sec->line, name, (double)a.threshold_limit, (double)a.threshold);
    net->areas[net->n_areas++] = a;
    return NPU_OK;
}

/* "A -> B" or "A -> B : label" into the two names. */
static int split_connect(const char *spec, char *a, char *b, size_t len)
{
    const char *arrow = strstr(spec, "->");
    if (!arrow)
        return -1;
    size_t na = (size_t)(arrow - spec);
    while (na > 0 && spec[na - 1] == ' ')
        na--;
    const char *p = arrow + 2;
    while (*p == ' ')
        p++;
    const char *colon = strchr(p, ':');
    size_t nb = colon ? (size_t)(colon - p) : strlen(p);
    while (nb > 0 && p[nb - 1] == ' ')
        nb--;
    if (na == 0 || nb == 0 || na >= len || nb >= len)
        return -1;
    memcpy(a, spec, na);
    a[na] = '\0';
    memcpy(b, p, nb);
    b[nb] = '\0';
    return 0;
}

static int load_connect(struct loader *L, struct npu_ini_section *sec, const char *spec_text)
{
    struct npu_net *net = L->net;
    struct npu_conn_spec *c = &L->conns[L->n_conns];
    memset(c, 0, sizeof(*c));
    npu_ini_where(L->ini, sec, NULL, c->where, sizeof(c->where));
    snprintf(c->section, sizeof(c->section), "%s", sec->name);

    char a[NPU_NAME_MAX + 8], b[NPU_NAME_MAX + 8], why[NPU_WHY_MAX];
    if (split_connect(spec_text, a, b, sizeof(a)))
        return FAIL_KV(L, sec, NULL, "expected [connect SOURCE -> TARGET] or [connect SOURCE -> TARGET : label]");
    c->wildcard = strcmp(a, "*") == 0 && strcmp(b, "*") == 0;
    if (!c->wildcard) {
        int ia = npu_net_area_index(net, a), ib = npu_net_area_index(net, b);
        if (ia < 0)
            return FAIL_KV(L, sec, NULL, "no area '%s'", a);
        if (ib < 0)
            return FAIL_KV(L, sec, NULL, "no area '%s'", b);
        c->src = (uint32_t)ia;
        c->dst = (uint32_t)ib;
    }

    struct npu_ini_kv *kv = npu_ini_get(sec, "rule");
    if (!kv)
        return FAIL_KV(L, sec, NULL, "[%s] needs a `rule` (all_to_all, one_to_one, projector, random, file)", sec->name);
    static const struct { const char *name; enum npu_rule rule; } rules[] = {
        { "all_to_all", NPU_RULE_ALL_TO_ALL }, { "one_to_one", NPU_RULE_ONE_TO_ONE },
        { "projector", NPU_RULE_PROJECTOR },   { "random", NPU_RULE_RANDOM },
        { "file", NPU_RULE_FILE },
    };
    size_t r = 0;
    while (r < sizeof(rules) / sizeof(rules[0]) && strcmp(rules[r].name, kv->value) != 0)
        r++;
    if (r == sizeof(rules) / sizeof(rules[0]))
        return FAIL_KV(L, sec, kv, "unknown rule '%s' (all_to_all, one_to_one, projector, random, file)", kv->value);
    c->rule = rules[r].rule;
    if (c->wildcard && c->rule != NPU_RULE_FILE)
        return FAIL_KV(L, sec, kv, "[connect * -> *] is only for rule = file");

    if (c->rule == NPU_RULE_FILE) {
        kv = npu_ini_get(sec, "file");
        if (!kv)
            return FAIL_KV(L, sec, NULL, "rule = file needs `file = PATH` (a source,target,weight,psp,type CSV)");
        size_t n = strlen(L->ini->dir) + strlen(kv->value) + 1;
        c->file = malloc(n);
        if (!c->file)
            return npu_err_set(L->err, NPU_E_RESOURCE, "out of memory");
        snprintf(c->file, n, "%s%s", kv->value[0] == '/' ? "" : L->ini->dir, kv->value);
        for (const char *k = "weight\0psp\0type\0probability\0fanout\0"; *k; k += strlen(k) + 1)
            if ((kv = npu_ini_get(sec, k)))
                return FAIL_KV(L, sec, kv, "`%s` does not apply to rule = file (each row has its own)", k);
        L->n_conns++;
        return NPU_OK;
    }

    uint32_t u;
    kv = npu_ini_get(sec, "weight");
    if (!kv)
        return FAIL_KV(L, sec, NULL, "[%s] needs `weight` (0..255)", sec->name);
    if (npu_value_u32(kv->value, 0, 255, &u, why))
        return FAIL_KV(L, sec, kv, "weight: %s", why);
    c->weight = (uint8_t)u;
    kv = npu_ini_get(sec, "psp");
    if (!kv)
        return FAIL_KV(L, sec, NULL, "[%s] needs `psp` (0..255)", sec->name);
    if (npu_value_u32(kv->value, 0, 255, &u, why))
        return FAIL_KV(L, sec, kv, "psp: %s", why);
    c->psp = (uint8_t)u;
    if ((kv = npu_ini_get(sec, "type"))) {
        if (strcmp(kv->value, "inhibitory") == 0)
            c->inhibitory = true;
        else if (strcmp(kv->value, "excitatory") != 0)
            return FAIL_KV(L, sec, kv, "type '%s' must be excitatory or inhibitory", kv->value);
    }

    const struct npu_area *A = &net->areas[c->src], *B = &net->areas[c->dst];
    struct npu_ini_kv *pk = npu_ini_get(sec, "probability"), *fk = npu_ini_get(sec, "fanout");
    if (c->rule == NPU_RULE_RANDOM) {
        if ((pk != NULL) == (fk != NULL))
            return FAIL_KV(L, sec, pk ? pk : fk, "rule = random needs exactly one of `probability` or `fanout`");
        if (pk) {
            if (npu_value_f64(pk->value, 0.0, 1.0, &c->probability, why))
                return FAIL_KV(L, sec, pk, "probability: %s", why);
            /* Below this 1-p rounds to 1 and the geometric skip divides by 0. */
            if (c->probability < 1e-12)
                return FAIL_KV(L, sec, pk, "probability %s is too small (minimum 1e-12)", pk->value);
        } else {
            if (npu_value_u32(fk->value, 1, B->count, &c->fanout, why))
                return FAIL_KV(L, sec, fk, "fanout: %s (the target area has %u neurons)", why, B->count);
        }
    } else if (pk || fk) {
        return FAIL_KV(L, sec, pk ? pk : fk, "`%s` applies only to rule = random", pk ? "probability" : "fanout");
    }
    if (c->rule == NPU_RULE_ONE_TO_ONE &&
        (A->dim[0] != B->dim[0] || A->dim[1] != B->dim[1] || A->dim[2] != B->dim[2]))
        return FAIL_KV(L, sec, NULL, "one_to_one needs equal sizes: %s is %ux%ux%u, %s is %ux%ux%u",
                       A->name, A->dim[0], A->dim[1], A->dim[2], B->name, B->dim[0], B->dim[1], B->dim[2]);
    L->n_conns++;
    return NPU_OK;
}

uint64_t npu_netload_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* Connection indices feeding each area's sources, as a CSR over areas, so
 * building is neither O(neurons x connections) nor O(areas x connections)
 * in memory.  Wildcard connections feed every area and are kept apart. */
struct feeds {
    uint32_t *off;     /* [n_areas + 1] */
    uint32_t *conn;    /* ascending within an area */
    uint32_t *wild;    /* ascending */
    uint32_t n_wild;
};

/* Appends source s's synapses from each connection into the CSR.  Each
 * connection gives a source's targets sorted, so one connection is a copy
 * and several are a stable merge (ties in file order, i.e. index order). */
static void merge_source(struct npu_net *net, uint32_t s, struct npu_conn_out *outs, uint64_t *cursor,
                         const struct feeds *fd, uint32_t *tmp_t, uint16_t *tmp_w)
{
    uint32_t a = net->area_of[s];
    uint32_t i = fd->off[a], i_end = fd->off[a + 1], w = 0;
    uint64_t at = net->syn_off[s];
    bool first_run = true;
    while (i < i_end || w < fd->n_wild) {
        uint32_t c = (w >= fd->n_wild || (i < i_end && fd->conn[i] < fd->wild[w])) ? fd->conn[i++]
                                                                                    : fd->wild[w++];
        struct npu_conn_out *o = &outs[c];
        if (s < o->first || s - o->first >= o->n_src)
            continue;
        uint32_t cnt = o->count[s - o->first];
        if (cnt == 0)
            continue;
        memcpy(net->syn_target + at, o->tgt + cursor[c], cnt * sizeof(uint32_t));
        memcpy(net->syn_wp + at, o->wp + cursor[c], cnt * sizeof(uint16_t));
        cursor[c] += cnt;
        if (!first_run) {
            /* merge [syn_off[s], at) with [at, at+cnt) */
            uint64_t l = net->syn_off[s], r = at, k = 0, mid = at, end = at + cnt;
            while (l < mid || r < end) {
                bool left = r >= end || (l < mid && (net->syn_target[l] & NPU_SYN_TARGET_MASK) <=
                                                    (net->syn_target[r] & NPU_SYN_TARGET_MASK));
                uint64_t from = left ? l++ : r++;
                tmp_t[k] = net->syn_target[from];
                tmp_w[k++] = net->syn_wp[from];
            }
            memcpy(net->syn_target + net->syn_off[s], tmp_t, k * sizeof(uint32_t));
            memcpy(net->syn_wp + net->syn_off[s], tmp_w, k * sizeof(uint16_t));
        }
        first_run = false;
        at += cnt;
    }
}

static int build_csr(struct loader *L, struct npu_conn_out *outs, uint64_t max_bytes)
{
    struct npu_net *net = L->net;
    uint64_t total = 0;
    for (uint32_t c = 0; c < L->n_conns; c++)
        total += outs[c].n;
    if (total > NPU_MAX_SYNAPSES)
        return npu_err_set(L->err, NPU_E_RESOURCE, "%s: %llu synapses: at most %llu are supported",
                           L->ini->path, (unsigned long long)total, (unsigned long long)NPU_MAX_SYNAPSES);
    net->n_synapses = total;
    uint64_t need = (uint64_t)net->n_neurons * 6 + total * 6;
    if (max_bytes && need > max_bytes) {
        char a[32], b[32];
        return npu_err_set(L->err, NPU_E_RESOURCE,
                           "%s: the network needs %s for %u neurons and %llu synapses, more than the %s allowed (free memory, or --max-memory)",
                           L->ini->path, npu_value_fmt_bytes(need, a, sizeof(a)), net->n_neurons,
                           (unsigned long long)total, npu_value_fmt_bytes(max_bytes, b, sizeof(b)));
    }
    /* One connection: its arrays already are the CSR's (sources in id
     * order, each source's targets sorted, merge_source would copy them as
     * they are), so the network takes them over.  At 100M synapses that is
     * 600 MB less to fault in and to copy. */
    bool adopt = L->n_conns == 1 && total > 0;
    if (adopt) {
        net->syn_target = outs[0].tgt;
        net->syn_wp = outs[0].wp;
        outs[0].tgt = NULL;
        outs[0].wp = NULL;
    }
    int rc = npu_net_alloc_arrays(net, L->err);
    if (rc)
        return rc;
    for (uint32_t a = 0; a < net->n_areas; a++)
        for (uint32_t i = 0; i < net->areas[a].count; i++)
            net->area_of[net->areas[a].base + i] = (uint16_t)a;

    /* Offsets: per-source counts summed over connections, then a prefix sum. */
    memset(net->syn_off, 0, ((size_t)net->n_neurons + 1) * sizeof(uint32_t));
    uint32_t max_deg = 0;
    for (uint32_t c = 0; c < L->n_conns; c++)
        for (uint32_t k = 0; k < outs[c].n_src; k++)
            net->syn_off[outs[c].first + k + 1] += outs[c].count[k];
    for (uint32_t s = 0; s < net->n_neurons; s++) {
        if (net->syn_off[s + 1] > max_deg)
            max_deg = net->syn_off[s + 1];
        net->syn_off[s + 1] += net->syn_off[s];
    }

    struct feeds fd = {
        .off = calloc((size_t)net->n_areas + 1, sizeof(uint32_t)),
        .conn = malloc(((size_t)L->n_conns + 1) * sizeof(uint32_t)),
        .wild = malloc(((size_t)L->n_conns + 1) * sizeof(uint32_t)),
    };
    uint64_t *cursor = calloc((size_t)L->n_conns + 1, sizeof(uint64_t));
    uint32_t *tmp_t = malloc(((size_t)max_deg + 1) * sizeof(uint32_t));
    uint16_t *tmp_w = malloc(((size_t)max_deg + 1) * sizeof(uint16_t));
    if (!fd.off || !fd.conn || !fd.wild || !cursor || !tmp_t || !tmp_w) {
        rc = npu_err_set(L->err, NPU_E_RESOURCE, "out of memory");
        goto out;
    }
    for (uint32_t c = 0; c < L->n_conns; c++) {
        if (L->conns[c].wildcard)
            fd.wild[fd.n_wild++] = c;
        else
            fd.off[L->conns[c].src + 1]++;
    }
    for (uint32_t a = 0; a < net->n_areas; a++)
        fd.off[a + 1] += fd.off[a];
    /* Fill in connection order (a counting sort by source area): each
     * area's start offset advances to its end, i.e. to the next area's
     * start, so shifting the array back by one restores it. */
    for (uint32_t c = 0; c < L->n_conns; c++)
        if (!L->conns[c].wildcard)
            fd.conn[fd.off[L->conns[c].src]++] = c;
    memmove(fd.off + 1, fd.off, (size_t)net->n_areas * sizeof(uint32_t));
    fd.off[0] = 0;
    for (uint32_t s = 0; !adopt && s < net->n_neurons; s++)
        merge_source(net, s, outs, cursor, &fd, tmp_t, tmp_w);
out:
    free(fd.off);
    free(fd.conn);
    free(fd.wild);
    free(cursor);
    free(tmp_t);
    free(tmp_w);
    return rc;
}

static uint64_t digest(const struct npu_net *net)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    for (uint32_t a = 0; a < net->n_areas; a++) {
        const struct npu_area *ar = &net->areas[a];
        /* Field by field: struct padding must not enter the digest. */
        XXH3_64bits_update(st, ar->name, strlen(ar->name) + 1);
        uint32_t u[] = { ar->base, ar->count, ar->dim[0], ar->dim[1], ar->dim[2], ar->refractory,
                         ar->cfl, ar->snooze, ar->has_limit, ar->accumulate, ar->power,
                         ar->mp_driven_psp, ar->psp_uniform };
        float f[] = { ar->threshold, ar->has_limit ? ar->threshold_limit : 0.0f, ar->leak,
                      ar->excitability };
        XXH3_64bits_update(st, u, sizeof(u));
        XXH3_64bits_update(st, f, sizeof(f));
    }
    XXH3_64bits_update(st, net->syn_off, ((size_t)net->n_neurons + 1) * sizeof(uint32_t));
    XXH3_64bits_update(st, net->syn_target, (size_t)net->n_synapses * sizeof(uint32_t));
    XXH3_64bits_update(st, net->syn_wp, (size_t)net->n_synapses * sizeof(uint16_t));
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

static void warn_isolated(struct loader *L)
{
    struct npu_net *net = L->net;
    for (uint32_t a = 0; a < net->n_areas; a++) {
        bool in = false, out = false;
        for (uint32_t c = 0; c < L->n_conns; c++) {
            in |= L->conns[c].wildcard || L->conns[c].dst == a;
            out |= L->conns[c].wildcard || L->conns[c].src == a;
        }
        if (!in && !out && !net->areas[a].power) {
            struct npu_ini_section *sec = NULL;
            char name[NPU_NAME_MAX + 8], where[512];
            snprintf(name, sizeof(name), "area %s", net->areas[a].name);
            sec = npu_ini_section(L->ini, name);
            /* An area made by --set has no line: FILE:0 would read as one. */
            npu_ini_where(L->ini, sec, NULL, where, sizeof(where));
            npu_warn(L->warn, "%s: warning: nothing connects to or from area '%s'", where,
                     net->areas[a].name);
        }
    }
}

int npu_netload_ini(struct npu_ini *ini, const struct npu_netload_opts *opts, struct npu_net **out,
                    struct npu_warnings *warn, struct npu_err *err)
{
    *out = NULL;
    struct loader L = { .ini = ini, .err = err, .warn = warn };
    struct npu_conn_out *outs = NULL;
    /* Overrides first: they may add sections, and the tables below are
     * sized by the section count. */
    int rc = opts ? npu_ini_apply(ini, opts->overrides, opts->n_overrides, err) : NPU_OK;
    if (rc)
        return rc;
    size_t n_slots = ini->n_sec ? ini->n_sec : 1;
    L.net = calloc(1, sizeof(*L.net));
    if (L.net)
        L.net->areas = calloc(n_slots, sizeof(struct npu_area));
    L.conns = calloc(n_slots, sizeof(*L.conns));
    if (!L.net || !L.net->areas || !L.conns) {
        rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        goto fail;
    }

    struct npu_net *net = L.net;
    char why[NPU_WHY_MAX];
    struct npu_ini_section *sec = npu_ini_section(ini, "network");
    snprintf(net->name, sizeof(net->name), "unnamed");
    if (sec) {
        sec->used = true;
        struct npu_ini_kv *kv;
        if ((kv = npu_ini_get(sec, "name"))) {
            if (!valid_name(kv->value)) {
                rc = FAIL_KV(&L, sec, kv, "name '%s' must be 1-%d letters, digits, '_' or '-'",
                             kv->value, NPU_NAME_MAX - 1);
                goto fail;
            }
            snprintf(net->name, sizeof(net->name), "%s", kv->value);
        }
        if ((kv = npu_ini_get(sec, "seed")) && npu_value_u64(kv->value, 0, UINT64_MAX, &net->seed, why)) {
            rc = FAIL_KV(&L, sec, kv, "seed: %s", why);
            goto fail;
        }
    }
    struct npu_area defaults = builtin_defaults;
    if ((sec = npu_ini_section(ini, "defaults"))) {
        sec->used = true;
        if ((rc = neuron_keys(&L, sec, &defaults)))
            goto fail;
    }

    uint64_t next_base = 0;
    for (size_t i = 0; i < ini->n_sec; i++) {
        sec = &ini->sec[i];
        if (strncmp(sec->name, "area ", 5) == 0) {
            sec->used = true;
            const char *name = sec->name + 5;
            while (*name == ' ')
                name++;
            if ((rc = load_area(&L, sec, name, &defaults, &next_base)))
                goto fail;
        }
    }
    if (net->n_areas == 0) {
        rc = npu_err_set(err, NPU_E_INPUT, "%s: the network has no [area NAME] sections", ini->path);
        goto fail;
    }
    net->n_neurons = (uint32_t)next_base;

    for (size_t i = 0; i < ini->n_sec; i++) {
        sec = &ini->sec[i];
        if (strncmp(sec->name, "connect ", 8) == 0) {
            sec->used = true;
            if ((rc = load_connect(&L, sec, sec->name + 8)))
                goto fail;
        }
    }
    if ((rc = npu_ini_check_unused(ini, err))) {
        if (strstr(err->msg, "unknown section"))
            npu_err_set(err, NPU_E_INPUT, "%s (network sections: [network], [defaults], [area NAME], "
                        "[connect A -> B])", err->msg);
        goto fail;
    }

    uint64_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : npu_netload_mem_available();
    uint64_t estimate = 0;
    for (uint32_t c = 0; c < L.n_conns; c++)
        estimate += npu_connect_estimate(net, &L.conns[c]);
    /* Generation holds each connection's synapses and the CSR at once. */
    if (max_bytes && estimate * 12 > max_bytes) {
        char a[32], b[32];
        rc = npu_err_set(err, NPU_E_RESOURCE,
                         "%s: about %llu synapses need about %s while building, more than the %s allowed (free memory, or --max-memory)",
                         ini->path, (unsigned long long)estimate, npu_value_fmt_bytes(estimate * 12, a, sizeof(a)),
                         npu_value_fmt_bytes(max_bytes, b, sizeof(b)));
        goto fail;
    }
    if (estimate > NPU_MAX_SYNAPSES) {
        rc = npu_err_set(err, NPU_E_RESOURCE, "%s: about %llu synapses: at most %llu are supported",
                         ini->path, (unsigned long long)estimate, (unsigned long long)NPU_MAX_SYNAPSES);
        goto fail;
    }
    outs = calloc(L.n_conns + 1, sizeof(*outs));
    if (!outs) {
        rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        goto fail;
    }
    for (uint32_t c = 0; c < L.n_conns; c++) {
        /* The file rule's rows (16 bytes each while sorting) share the limit. */
        L.conns[c].max_bytes = max_bytes ? max_bytes / 2 : 0;
    }
    for (uint32_t c = 0; c < L.n_conns; c++)
        if ((rc = npu_connect_generate(net, &L.conns[c], net->seed, c, &outs[c], err)))
            goto fail;
    if ((rc = build_csr(&L, outs, max_bytes)))
        goto fail;
    warn_isolated(&L);
    net->digest = digest(net);
    *out = net;
    net = NULL;
    rc = NPU_OK;
fail:
    /* Every slot, not only the accepted ones: a connection that failed
     * half-way may already own its file path. */
    for (size_t c = 0; L.conns && c < n_slots; c++)
        free(L.conns[c].file);
    for (uint32_t c = 0; outs && c < L.n_conns; c++)
        npu_connect_out_free(&outs[c]);
    free(outs);
    free(L.conns);
    if (rc)
        npu_net_free(L.net);
    return rc;
}

int npu_netload_file(const char *path, const struct npu_netload_opts *opts, struct npu_net **out,
                     struct npu_warnings *warn, struct npu_err *err)
{
    struct npu_ini *ini;
    *out = NULL;
    int rc = npu_ini_load(path, &ini, err);
    if (rc)
        return rc;
    rc = npu_netload_ini(ini, opts, out, warn, err);
    npu_ini_free(ini);
    return rc;
}
