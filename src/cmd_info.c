/* npusim info: what a trace holds, per area, and how its run ended. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "jsonw.h"
#include "trace.h"
#include "value.h"

/* Points of the --json activity series unless --series says otherwise. */
#define DEFAULT_SERIES_POINTS 1000

struct area_stats {
    uint64_t fires;
    uint32_t first, last;         /* bursts with a fire; 0 = none */
};

/* Per-area counts; index n_areas collects ids outside every area. */
struct info {
    const char *path;
    const struct npu_trace_header *h;
    struct area_stats *area;
    struct npu_trace_status st;
    uint32_t *per_burst;          /* fires of burst b at [b - 1] (--json only) */
    size_t n_per_burst, cap_per_burst;
    uint32_t series_points;       /* at most this many activity bins */
};

static double rate(uint64_t fires, uint32_t bursts, uint32_t count)
{
    double cells = (double)bursts * (double)count;
    return cells > 0 ? (double)fires / cells : 0.0;
}

static const char *end_name(const struct npu_trace_status *st)
{
    if (!st->complete)
        return "cut_short";
    switch (st->end) {
    case NPU_TRACE_END_COMPLETE: return "complete";
    case NPU_TRACE_END_INTERRUPTED: return "interrupted";
    case NPU_TRACE_END_ERROR: return "error";
    }
    return "unknown";
}

static void print_text(const struct info *in, const struct npu_err *failure)
{
    const struct npu_trace_header *h = in->h;
    const struct npu_trace_status *st = &in->st;
    printf("trace:           %s (format version %" PRIu32 ")\n", in->path, h->version);
    printf("program:         %s\n", h->program);
    printf("backend:         %s\n", h->backend);
    printf("device:          %s\n", h->device);
    printf("network:         %s (%s)\n", h->network_name, h->network_path);
    printf("network digest:  %016" PRIx64 "\n", h->network_digest);
    printf("scenario:        %s\n", h->scenario_path);
    printf("scenario digest: %016" PRIx64 "\n", h->scenario_digest);
    printf("seed:            %" PRIu64 "\n", h->seed);
    if (h->n_overrides == 0)
        printf("overrides:       none\n");
    for (uint32_t i = 0; i < h->n_overrides; i++)
        printf("override:        %s\n", h->overrides[i]);
    printf("neurons:         %" PRIu32 " in %" PRIu32 " areas\n", h->n_neurons, h->n_areas);
    printf("potentials:      %s\n", h->potentials ? "recorded" : "not recorded");
    printf("bursts:          %" PRIu32 " of %" PRIu32 " planned\n", st->last_burst,
           h->bursts_planned);
    printf("fires:           %" PRIu64 " (%.6g per burst)\n", st->total_fires,
           st->last_burst ? (double)st->total_fires / st->last_burst : 0.0);
    if (failure)
        printf("status:          corrupt after burst %" PRIu32 "\n", st->last_burst);
    else if (!st->complete)
        printf("status:          cut short after burst %" PRIu32
               " (no end record: the run was killed or its disk filled)\n", st->last_burst);
    else if (st->end == NPU_TRACE_END_COMPLETE)
        printf("status:          complete\n");
    else
        printf("status:          %s after burst %" PRIu32 " (the run %s)\n",
               st->end == NPU_TRACE_END_INTERRUPTED ? "interrupted" : "ended by an error",
               st->last_burst,
               st->end == NPU_TRACE_END_INTERRUPTED ? "was stopped" : "failed");

    if (h->n_areas)
        printf("\n%-20s %10s %10s %14s %12s %12s %8s %8s\n", "area", "base", "count",
               "X*Y*Z", "fires", "rate", "first", "last");
    for (uint32_t i = 0; i < h->n_areas; i++) {
        const struct npu_trace_area *a = &h->areas[i];
        const struct area_stats *s = &in->area[i];
        char dims[48];
        snprintf(dims, sizeof(dims), "%" PRIu32 "x%" PRIu32 "x%" PRIu32, a->dim[0], a->dim[1],
                 a->dim[2]);
        printf("%-20s %10" PRIu32 " %10" PRIu32 " %14s %12" PRIu64 " %12.6g ", a->name, a->base,
               a->count, dims, s->fires, rate(s->fires, st->last_burst, a->count));
        if (s->fires)
            printf("%8" PRIu32 " %8" PRIu32 "\n", s->first, s->last);
        else
            printf("%8s %8s\n", "-", "-");
    }
    if (in->area[h->n_areas].fires)
        printf("fires outside every area: %" PRIu64 "\n", in->area[h->n_areas].fires);
}

static void json_opt_burst(struct npu_jsonw *j, const char *key, uint32_t b)
{
    npu_jsonw_key(j, key);
    if (b)
        npu_jsonw_u64(j, b);
    else
        npu_jsonw_null(j);
}

/* Fires per burst, summed over bins of consecutive bursts so that at most
 * series_points values are written: bin k covers bursts
 * k*bin+1 .. (k+1)*bin (the last bin may be shorter). */
static void print_activity(struct npu_jsonw *j, const struct info *in)
{
    size_t n = in->n_per_burst;
    uint64_t bin = n > in->series_points ? (n + in->series_points - 1) / in->series_points : 1;
    npu_jsonw_key(j, "activity_bin_bursts");
    npu_jsonw_u64(j, bin);
    npu_jsonw_key(j, "activity");
    npu_jsonw_arr_begin(j);
    for (size_t b = 0; b < n; b += bin) {
        uint64_t sum = 0;
        for (size_t k = b; k < n && k < b + bin; k++)
            sum += in->per_burst[k];
        npu_jsonw_u64(j, sum);
    }
    npu_jsonw_arr_end(j);
}

/* Records burst b's fire count; bursts arrive in order from 1. */
static int note_burst(struct info *in, uint32_t burst, uint32_t n)
{
    if (burst != in->n_per_burst + 1)
        return NPU_E_INTERNAL;
    if (in->n_per_burst == in->cap_per_burst) {
        size_t cap = in->cap_per_burst ? in->cap_per_burst * 2 : 1024;
        uint32_t *p = realloc(in->per_burst, cap * sizeof(*p));
        if (!p)
            return NPU_E_RESOURCE;
        in->per_burst = p;
        in->cap_per_burst = cap;
    }
    in->per_burst[in->n_per_burst++] = n;
    return NPU_OK;
}

static void print_json(const struct info *in, const struct npu_err *failure)
{
    const struct npu_trace_header *h = in->h;
    const struct npu_trace_status *st = &in->st;
    struct npu_jsonw j;
    char hex[17];
    npu_jsonw_init(&j, stdout);
    npu_jsonw_obj_begin(&j);
    npu_jsonw_key(&j, "path");
    npu_jsonw_str(&j, in->path);
    npu_jsonw_key(&j, "format_version");
    npu_jsonw_u64(&j, h->version);
    npu_jsonw_key(&j, "program");
    npu_jsonw_str(&j, h->program);
    npu_jsonw_key(&j, "backend");
    npu_jsonw_str(&j, h->backend);
    npu_jsonw_key(&j, "device");
    npu_jsonw_str(&j, h->device);

    npu_jsonw_key(&j, "network");
    npu_jsonw_obj_begin(&j);
    npu_jsonw_key(&j, "name");
    npu_jsonw_str(&j, h->network_name);
    npu_jsonw_key(&j, "path");
    npu_jsonw_str(&j, h->network_path);
    npu_jsonw_key(&j, "digest");
    snprintf(hex, sizeof(hex), "%016" PRIx64, h->network_digest);
    npu_jsonw_str(&j, hex);
    npu_jsonw_obj_end(&j);

    npu_jsonw_key(&j, "scenario");
    npu_jsonw_obj_begin(&j);
    npu_jsonw_key(&j, "path");
    npu_jsonw_str(&j, h->scenario_path);
    npu_jsonw_key(&j, "digest");
    snprintf(hex, sizeof(hex), "%016" PRIx64, h->scenario_digest);
    npu_jsonw_str(&j, hex);
    npu_jsonw_obj_end(&j);

    npu_jsonw_key(&j, "seed");
    npu_jsonw_u64(&j, h->seed);
    npu_jsonw_key(&j, "overrides");
    npu_jsonw_arr_begin(&j);
    for (uint32_t i = 0; i < h->n_overrides; i++)
        npu_jsonw_str(&j, h->overrides[i]);
    npu_jsonw_arr_end(&j);
    npu_jsonw_key(&j, "n_neurons");
    npu_jsonw_u64(&j, h->n_neurons);
    npu_jsonw_key(&j, "bursts_planned");
    npu_jsonw_u64(&j, h->bursts_planned);
    npu_jsonw_key(&j, "potentials");
    npu_jsonw_bool(&j, h->potentials);

    npu_jsonw_key(&j, "bursts");
    npu_jsonw_u64(&j, st->last_burst);
    npu_jsonw_key(&j, "total_fires");
    npu_jsonw_u64(&j, st->total_fires);
    npu_jsonw_key(&j, "complete");
    npu_jsonw_bool(&j, st->complete && !failure);
    npu_jsonw_key(&j, "end");
    npu_jsonw_str(&j, failure ? "corrupt" : end_name(st));
    npu_jsonw_key(&j, "last_burst");
    npu_jsonw_u64(&j, st->last_burst);

    npu_jsonw_key(&j, "areas");
    npu_jsonw_arr_begin(&j);
    for (uint32_t i = 0; i < h->n_areas; i++) {
        const struct npu_trace_area *a = &h->areas[i];
        const struct area_stats *s = &in->area[i];
        npu_jsonw_obj_begin(&j);
        npu_jsonw_key(&j, "name");
        npu_jsonw_str(&j, a->name);
        npu_jsonw_key(&j, "base");
        npu_jsonw_u64(&j, a->base);
        npu_jsonw_key(&j, "count");
        npu_jsonw_u64(&j, a->count);
        npu_jsonw_key(&j, "dims");
        npu_jsonw_arr_begin(&j);
        for (int d = 0; d < 3; d++)
            npu_jsonw_u64(&j, a->dim[d]);
        npu_jsonw_arr_end(&j);
        npu_jsonw_key(&j, "fires");
        npu_jsonw_u64(&j, s->fires);
        npu_jsonw_key(&j, "rate");
        npu_jsonw_f64(&j, rate(s->fires, st->last_burst, a->count));
        json_opt_burst(&j, "first_fire_burst", s->first);
        json_opt_burst(&j, "last_fire_burst", s->last);
        npu_jsonw_obj_end(&j);
    }
    npu_jsonw_arr_end(&j);
    npu_jsonw_key(&j, "fires_outside_areas");
    npu_jsonw_u64(&j, in->area[h->n_areas].fires);
    print_activity(&j, in);

    npu_jsonw_key(&j, "error");
    if (failure) {
        npu_jsonw_obj_begin(&j);
        npu_jsonw_key(&j, "code");
        npu_jsonw_u64(&j, (uint64_t)failure->code);
        npu_jsonw_key(&j, "name");
        npu_jsonw_str(&j, npu_status_name(failure->code));
        npu_jsonw_key(&j, "message");
        npu_jsonw_str(&j, failure->msg);
        npu_jsonw_obj_end(&j);
    } else {
        npu_jsonw_null(&j);
    }
    npu_jsonw_obj_end(&j);
    npu_jsonw_end(&j);
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "series", required_argument, NULL, 's' },
        { 0 },
    };
    bool json = false;
    uint32_t series = DEFAULT_SERIES_POINTS;
    char why[NPU_WHY_MAX];
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 's') {
            if (npu_value_u32(optarg, 1, UINT32_MAX, &series, why))
                return npu_cmd_usage_error("info", "--series: %s", why);
        } else
            return npu_cmd_usage_error("info", "unknown option or missing value '%s'",
                                       argv[optind - 1]);
    }
    if (argc - optind != 1)
        return npu_cmd_usage_error("info", "expected one TRACE, got %d arguments", argc - optind);

    struct info in = { .path = argv[optind], .series_points = series };
    struct npu_err err = { 0 };
    struct npu_trace_reader *r;
    int rc = npu_trace_reader_open(in.path, &r, &err);
    if (rc)
        return npu_cmd_fail(&err);
    in.h = npu_trace_reader_header(r);
    in.area = calloc((size_t)in.h->n_areas + 1, sizeof(*in.area));
    if (!in.area) {
        npu_trace_reader_close(r);
        npu_err_set(&err, NPU_E_RESOURCE, "out of memory");
        return npu_cmd_fail(&err);
    }

    uint32_t burst, n;
    const uint32_t *ids;
    const float *mp;
    while ((rc = npu_trace_reader_next(r, &burst, &n, &ids, &mp, &err)) == 1) {
        int brc = json ? note_burst(&in, burst, n) : NPU_OK;
        if (brc) {
            rc = npu_err_set(&err, brc, brc == NPU_E_RESOURCE ? "out of memory"
                                                              : "%s: bursts out of order", in.path);
            break;
        }
        for (uint32_t k = 0; k < n; k++) {
            struct area_stats *s = &in.area[npu_trace_area_find(in.h, ids[k])];
            s->fires++;
            if (!s->first)
                s->first = burst;
            s->last = burst;
        }
    }
    npu_trace_reader_status(r, &in.st);
    /* On corruption, show what was read before saying why it stopped. */
    const struct npu_err *failure = rc ? &err : NULL;
    if (json)
        print_json(&in, failure);
    else
        print_text(&in, failure);
    int out_rc = NPU_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        struct npu_err oerr;
        npu_err_set(&oerr, NPU_E_IO, "stdout: write failed");
        out_rc = npu_cmd_fail(&oerr);
    }
    free(in.area);
    free(in.per_burst);
    npu_trace_reader_close(r);
    if (failure)
        return npu_cmd_fail(&err);
    return out_rc;
}
