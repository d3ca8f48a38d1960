#include "scenario.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed.h"
#include "value.h"

#define FAIL_KV(ini, sec, kv, ...) npu_ini_error(err, ini, sec, kv, __VA_ARGS__)

/* Reads an unsigned integer at *p and advances; -1 if none or too large. */
static int read_u32(const char **p, uint32_t *out)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p < '0' || **p > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(*p, &end, 10);
    if (errno || v > UINT32_MAX)
        return -1;
    *p = end;
    while (**p == ' ' || **p == '\t')
        (*p)++;
    *out = (uint32_t)v;
    return 0;
}

/* "N | A-B | A-B/STEP", comma-separated. */
static int parse_bursts(const char *s, struct npu_stim *st, char *why)
{
    size_t cap = 1;
    for (const char *c = s; *c; c++)
        cap += *c == ',';
    st->ranges = calloc(cap, sizeof(*st->ranges));
    if (!st->ranges)
        return snprintf(why, NPU_WHY_MAX, "out of memory"), -1;
    const char *p = s;
    for (;;) {
        struct npu_burst_range r = { 0, 0, 1 };
        if (read_u32(&p, &r.first))
            return snprintf(why, NPU_WHY_MAX, "'%s': expected N, A-B or A-B/STEP, comma-separated", s), -1;
        r.last = r.first;
        if (*p == '-') {
            p++;
            if (read_u32(&p, &r.last))
                return snprintf(why, NPU_WHY_MAX, "'%s': expected a burst after '-'", s), -1;
            if (*p == '/') {
                p++;
                if (read_u32(&p, &r.step) || r.step == 0)
                    return snprintf(why, NPU_WHY_MAX, "'%s': the step after '/' must be >= 1", s), -1;
            }
        }
        if (r.first == 0)
            return snprintf(why, NPU_WHY_MAX, "'%s': bursts are numbered from 1", s), -1;
        if (r.last < r.first)
            return snprintf(why, NPU_WHY_MAX, "'%s': range %u-%u is backwards", s, r.first, r.last), -1;
        st->ranges[st->n_ranges++] = r;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            return snprintf(why, NPU_WHY_MAX, "'%s': unexpected '%c'", s, *p), -1;
        p++;
    }
}

/* "A" or "A-B" for one axis of a box. */
static int parse_axis(const char **p, uint32_t r[2])
{
    if (read_u32(p, &r[0]))
        return -1;
    r[1] = r[0];
    if (**p == '-') {
        (*p)++;
        if (read_u32(p, &r[1]) || r[1] < r[0])
            return -1;
    }
    return 0;
}

static int parse_neurons(const char *s, struct npu_stim *st, char *why)
{
    if (strcmp(s, "all") == 0) {
        st->sel = NPU_SEL_ALL;
        return 0;
    }
    if (strncmp(s, "random", 6) == 0 && (s[6] == ' ' || s[6] == '\t')) {
        st->sel = NPU_SEL_RANDOM;
        return npu_value_f64(s + 7 + strspn(s + 7, " \t"), 0.0, 1.0, &st->probability, why);
    }
    if (strncmp(s, "box", 3) == 0 && (s[3] == ' ' || s[3] == '\t')) {
        st->sel = NPU_SEL_BOX;
        const char *p = s + 4;
        for (int d = 0; d < 3; d++) {
            if (parse_axis(&p, st->box[d]) || (d < 2 && *p++ != ','))
                return snprintf(why, NPU_WHY_MAX, "'%s': expected box X0-X1,Y0-Y1,Z0-Z1", s), -1;
        }
        if (*p)
            return snprintf(why, NPU_WHY_MAX, "'%s': expected box X0-X1,Y0-Y1,Z0-Z1", s), -1;
        return 0;
    }
    st->sel = NPU_SEL_LIST;
    size_t cap = 1;
    for (const char *c = s; *c; c++)
        cap += *c == ';';
    st->coords = calloc(cap, sizeof(*st->coords));
    if (!st->coords)
        return snprintf(why, NPU_WHY_MAX, "out of memory"), -1;
    const char *p = s;
    for (;;) {
        uint32_t *c = st->coords[st->n_coords];
        if (read_u32(&p, &c[0]) || *p++ != ',' || read_u32(&p, &c[1]) || *p++ != ',' ||
            read_u32(&p, &c[2]))
            return snprintf(why, NPU_WHY_MAX,
                            "'%s': expected all, random P, box X0-X1,Y0-Y1,Z0-Z1, or x,y,z; x,y,z ...", s), -1;
        st->n_coords++;
        if (*p == '\0')
            return 0;
        if (*p != ';')
            return snprintf(why, NPU_WHY_MAX, "'%s': unexpected '%c' (separate coordinates with ';')", s, *p), -1;
        p++;
    }
}

static char *join_path(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + strlen(rel) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", rel[0] == '/' ? "" : dir, rel);
    return s;
}

static int load_stim(struct npu_ini *ini, struct npu_ini_section *sec, const char *name,
                     struct npu_stim *st, struct npu_err *err)
{
    char why[NPU_WHY_MAX];
    snprintf(st->name, sizeof(st->name), "%s", name);
    snprintf(st->section, sizeof(st->section), "stimulus %s", name);
    npu_ini_where(ini, sec, NULL, st->where, sizeof(st->where));
    struct npu_ini_kv *kv = npu_ini_get(sec, "area");
    if (!kv)
        return FAIL_KV(ini, sec, NULL, "[stimulus %s] needs `area`", name);
    if (strlen(kv->value) >= sizeof(st->area_name))
        return FAIL_KV(ini, sec, kv, "area name too long");
    snprintf(st->area_name, sizeof(st->area_name), "%s", kv->value);
    /* Resolving against the network comes later; keep where each key came
     * from, so an error names its line or its --set, not the section. */
    npu_ini_where(ini, sec, kv, st->area_where, sizeof(st->area_where));
    kv = npu_ini_get(sec, "neurons");
    npu_ini_where(ini, sec, kv, st->neurons_where, sizeof(st->neurons_where));
    if (!kv)
        st->sel = NPU_SEL_ALL;
    else if (parse_neurons(kv->value, st, why))
        return FAIL_KV(ini, sec, kv, "neurons: %s", why);
    kv = npu_ini_get(sec, "potential");
    if (!kv)
        return FAIL_KV(ini, sec, NULL, "[stimulus %s] needs `potential`", name);
    double p;
    if (npu_value_f64(kv->value, -NPU_POTENTIAL_MAX, NPU_POTENTIAL_MAX, &p, why))
        return FAIL_KV(ini, sec, kv, "potential: %s", why);
    st->q = npu_fx_from_double(p);
    kv = npu_ini_get(sec, "bursts");
    st->always = kv == NULL;
    if (kv && parse_bursts(kv->value, st, why))
        return FAIL_KV(ini, sec, kv, "bursts: %s", why);
    return NPU_OK;
}

static int resolve_stim(struct npu_stim *st, const struct npu_net *net, struct npu_err *err);

/* `potentials_of = AREA` or `AREA SELECTION` with the selections of a
 * stimulus except `random` (a probe must watch the same neurons all run). */
static int parse_probes(struct npu_ini *ini, struct npu_ini_section *sec, struct npu_ini_kv *kv,
                        struct npu_stim *st, struct npu_err *err)
{
    char why[NPU_WHY_MAX];
    snprintf(st->section, sizeof(st->section), "record");
    snprintf(st->name, sizeof(st->name), "potentials_of");
    npu_ini_where(ini, sec, kv, st->area_where, sizeof(st->area_where));
    npu_ini_where(ini, sec, kv, st->neurons_where, sizeof(st->neurons_where));
    size_t n = strcspn(kv->value, " \t");
    if (n == 0 || n >= sizeof(st->area_name))
        return FAIL_KV(ini, sec, kv, "potentials_of: expected AREA, or AREA followed by a selection "
                       "(box X0-X1,Y0-Y1,Z0-Z1 or x,y,z; x,y,z ...)");
    snprintf(st->area_name, sizeof(st->area_name), "%.*s", (int)n, kv->value);
    const char *rest = kv->value + n + strspn(kv->value + n, " \t");
    st->sel = NPU_SEL_ALL;
    if (*rest && parse_neurons(rest, st, why))
        return FAIL_KV(ini, sec, kv, "potentials_of: %s", why);
    if (st->sel == NPU_SEL_RANDOM)
        return FAIL_KV(ini, sec, kv, "potentials_of: a probe cannot be random (it watches the same "
                       "neurons every burst)");
    return NPU_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The probed ids, ascending and unique (a coordinate list may repeat). */
static int resolve_probes(struct npu_scenario *scn, const struct npu_net *net, struct npu_err *err)
{
    struct npu_stim *st = &scn->probe_sel;
    int rc = resolve_stim(st, net, err);
    if (rc)
        return rc;
    const struct npu_area *ar = &net->areas[st->area];
    uint32_t n = st->sel == NPU_SEL_ALL ? ar->count : st->n_ids;
    free(scn->probe_ids);
    scn->probe_ids = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!scn->probe_ids)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %u probes", n);
    for (uint32_t k = 0; k < n; k++)
        scn->probe_ids[k] = st->sel == NPU_SEL_ALL ? ar->base + k : st->ids[k];
    qsort(scn->probe_ids, n, sizeof(uint32_t), cmp_u32);
    uint32_t m = 0;
    for (uint32_t k = 0; k < n; k++)
        if (m == 0 || scn->probe_ids[k] != scn->probe_ids[m - 1])
            scn->probe_ids[m++] = scn->probe_ids[k];
    scn->n_probes = m;
    return NPU_OK;
}

static int interpret(struct npu_scenario *scn, struct npu_ini *ini, struct npu_err *err)
{
    char why[NPU_WHY_MAX];
    struct npu_ini_section *sec = npu_ini_section(ini, "scenario");
    if (!sec)
        return npu_err_set(err, NPU_E_INPUT, "%s: no [scenario] section", ini->path);
    sec->used = true;
    struct npu_ini_kv *kv = npu_ini_get(sec, "network");
    if (!kv)
        return FAIL_KV(ini, sec, NULL, "[scenario] needs `network = PATH` (relative to this file)");
    if (!(scn->network_path = join_path(ini->dir, kv->value)))
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    scn->bursts = 100;
    if ((kv = npu_ini_get(sec, "bursts")) && npu_value_u32(kv->value, 0, NPU_MAX_BURSTS, &scn->bursts, why))
        return FAIL_KV(ini, sec, kv, "bursts: %s", why);
    if ((kv = npu_ini_get(sec, "power")) &&
        npu_value_f64(kv->value, -NPU_POTENTIAL_MAX, NPU_POTENTIAL_MAX, &scn->power, why))
        return FAIL_KV(ini, sec, kv, "power: %s", why);
    scn->power_q = npu_fx_from_double(scn->power);
    if ((kv = npu_ini_get(sec, "seed")) && npu_value_u64(kv->value, 0, UINT64_MAX, &scn->seed, why))
        return FAIL_KV(ini, sec, kv, "seed: %s", why);
    if ((kv = npu_ini_get(sec, "trace"))) {
        if (!*kv->value)
            return FAIL_KV(ini, sec, kv, "trace: empty path");
        if (!(scn->trace_path = strdup(kv->value)))
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    snprintf(scn->backend, sizeof(scn->backend), "auto");
    if ((kv = npu_ini_get(sec, "backend"))) {
        if (strcmp(kv->value, "cpu") && strcmp(kv->value, "vulkan") && strcmp(kv->value, "auto"))
            return FAIL_KV(ini, sec, kv, "backend '%s' must be cpu, vulkan or auto", kv->value);
        snprintf(scn->backend, sizeof(scn->backend), "%s", kv->value);
    }
    scn->potentials = true;
    if ((sec = npu_ini_section(ini, "record"))) {
        sec->used = true;
        if ((kv = npu_ini_get(sec, "potentials")) && npu_value_bool(kv->value, &scn->potentials, why))
            return FAIL_KV(ini, sec, kv, "potentials: %s", why);
        if ((kv = npu_ini_get(sec, "potentials_of"))) {
            int rc = parse_probes(ini, sec, kv, &scn->probe_sel, err);
            if (rc)
                return rc;
            scn->has_probes = true;
        }
    }
    scn->stims = calloc(ini->n_sec ? ini->n_sec : 1, sizeof(*scn->stims));
    if (!scn->stims)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    for (size_t i = 0; i < ini->n_sec; i++) {
        sec = &ini->sec[i];
        if (strncmp(sec->name, "stimulus ", 9) != 0)
            continue;
        sec->used = true;
        const char *name = sec->name + 9 + strspn(sec->name + 9, " ");
        int rc = load_stim(ini, sec, name, &scn->stims[scn->n_stims], err);
        scn->n_stims++;
        if (rc)
            return rc;
    }
    int rc = npu_ini_check_unused(ini, err);
    if (rc && strstr(err->msg, "unknown section"))
        npu_err_set(err, NPU_E_INPUT, "%s (scenario sections: [scenario], [record], [stimulus NAME])", err->msg);
    return rc;
}

int npu_scn_load_ini(struct npu_ini *ini, const struct npu_override *ov, size_t n_ov,
                     struct npu_scenario **out, struct npu_err *err)
{
    *out = NULL;
    struct npu_scenario *scn = calloc(1, sizeof(*scn));
    if (!scn)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    int rc = npu_ini_apply(ini, ov, n_ov, err);
    if (!rc)
        rc = interpret(scn, ini, err);
    scn->digest = ini->digest;
    if (!rc && !(scn->path = strdup(ini->path)))
        rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    if (rc) {
        npu_scn_free(scn);
        return rc;
    }
    *out = scn;
    return NPU_OK;
}

int npu_scn_load(const char *path, const struct npu_override *ov, size_t n_ov,
                 struct npu_scenario **out, struct npu_err *err)
{
    struct npu_ini *ini;
    *out = NULL;
    int rc = npu_ini_load(path, &ini, err);
    if (rc)
        return rc;
    rc = npu_scn_load_ini(ini, ov, n_ov, out, err);
    npu_ini_free(ini);
    return rc;
}

/* Resolves st against net, replacing the ids of an earlier resolution. */
static int resolve_stim(struct npu_stim *st, const struct npu_net *net, struct npu_err *err)
{
    free(st->ids);
    st->ids = NULL;
    st->n_ids = 0;
    int a = npu_net_area_index(net, st->area_name);
    if (a < 0)
        return npu_err_set(err, NPU_E_INPUT, "%s: [%s]: the network has no area '%s'",
                           st->area_where, st->section, st->area_name);
    st->area = (uint32_t)a;
    const struct npu_area *ar = &net->areas[a];
    if (st->sel == NPU_SEL_LIST) {
        st->ids = malloc(st->n_coords * sizeof(uint32_t));
        if (!st->ids)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        for (uint32_t k = 0; k < st->n_coords; k++) {
            uint32_t *c = st->coords[k];
            if (c[0] >= ar->dim[0] || c[1] >= ar->dim[1] || c[2] >= ar->dim[2])
                return npu_err_set(err, NPU_E_INPUT, "%s: [%s]: %u,%u,%u is outside area '%s' (%ux%ux%u)",
                                   st->neurons_where, st->section, c[0], c[1], c[2], ar->name, ar->dim[0], ar->dim[1], ar->dim[2]);
            st->ids[k] = ar->base + c[0] + ar->dim[0] * (c[1] + ar->dim[1] * c[2]);
        }
        st->n_ids = st->n_coords;
    } else if (st->sel == NPU_SEL_BOX) {
        uint64_t n = 1;
        for (int d = 0; d < 3; d++) {
            if (st->box[d][1] >= ar->dim[d])
                return npu_err_set(err, NPU_E_INPUT, "%s: [%s]: box axis %d reaches %u, outside area '%s' (%ux%ux%u)",
                                   st->neurons_where, st->section, d + 1, st->box[d][1], ar->name, ar->dim[0], ar->dim[1], ar->dim[2]);
            n *= st->box[d][1] - st->box[d][0] + 1;
        }
        st->ids = malloc(n * sizeof(uint32_t));  /* n <= area size < 2^31 */
        if (!st->ids)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        for (uint32_t z = st->box[2][0]; z <= st->box[2][1]; z++)
            for (uint32_t y = st->box[1][0]; y <= st->box[1][1]; y++)
                for (uint32_t x = st->box[0][0]; x <= st->box[0][1]; x++)
                    st->ids[st->n_ids++] = ar->base + x + ar->dim[0] * (y + ar->dim[1] * z);
    }
    return NPU_OK;
}

int npu_scn_resolve(struct npu_scenario *scn, const struct npu_net *net,
                    struct npu_warnings *warn, struct npu_err *err)
{
    if (scn->has_probes) {
        int rc = resolve_probes(scn, net, err);
        if (rc)
            return rc;
    }
    for (uint32_t i = 0; i < scn->n_stims; i++) {
        struct npu_stim *st = &scn->stims[i];
        int rc = resolve_stim(st, net, err);
        if (rc)
            return rc;
        bool any = st->always;
        for (uint32_t r = 0; r < st->n_ranges; r++)
            any |= st->ranges[r].first <= scn->bursts;
        if (!any)
            npu_warn(warn, "%s: warning: [stimulus %s] is scheduled only after the last burst (%u)",
                     st->where, st->name, scn->bursts);
    }
    /* An area with no way in never fires: likely a forgotten connection.
     * One pass over the synapses, stopped as soon as every area is fed. */
    bool *fed = calloc(net->n_areas, sizeof(bool));
    if (!fed)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    uint32_t n_fed = 0;
    for (uint32_t a = 0; a < net->n_areas; a++) {
        fed[a] = net->areas[a].power && scn->power_q != 0;
        for (uint32_t i = 0; i < scn->n_stims && !fed[a]; i++)
            fed[a] = scn->stims[i].area == a;
        n_fed += fed[a];
    }
    for (uint64_t e = 0; e < net->n_synapses && n_fed < net->n_areas; e++) {
        uint32_t a = net->area_of[net->syn_target[e] & NPU_SYN_TARGET_MASK];
        if (!fed[a]) {
            fed[a] = true;
            n_fed++;
        }
    }
    for (uint32_t a = 0; a < net->n_areas; a++)
        if (!fed[a])
            npu_warn(warn, "%s: warning: area '%s' gets no input (no stimulus, no power, no synapse into it)",
                     scn->path, net->areas[a].name);
    free(fed);
    return NPU_OK;
}

bool npu_scn_scheduled(const struct npu_stim *s, uint32_t b)
{
    if (s->always)
        return true;
    for (uint32_t r = 0; r < s->n_ranges; r++) {
        const struct npu_burst_range *g = &s->ranges[r];
        if (b >= g->first && b <= g->last && (b - g->first) % g->step == 0)
            return true;
    }
    return false;
}

void npu_scn_free(struct npu_scenario *scn)
{
    if (!scn)
        return;
    for (uint32_t i = 0; i < scn->n_stims; i++) {
        free(scn->stims[i].coords);
        free(scn->stims[i].ids);
        free(scn->stims[i].ranges);
    }
    free(scn->stims);
    free(scn->probe_sel.coords);
    free(scn->probe_sel.ids);
    free(scn->probe_ids);
    free(scn->path);
    free(scn->network_path);
    free(scn->trace_path);
    free(scn);
}
