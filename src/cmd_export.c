/* npusim export: a trace as CSV rows, a bmtk spike table or a SONATA spike
 * report (HDF5). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "sonata.h"
#include "trace.h"

enum format { FMT_NONE, FMT_CSV, FMT_BMTK, FMT_SONATA };

typedef char pop_name[sizeof(((struct npu_trace_area *)0)->name)];

/* Area names are free text; quote them so a comma cannot shift columns. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* bmtk's spike table is split on spaces; a name cannot hold one. */
static bool bmtk_name(const char *in, char *out, size_t n)
{
    bool changed = false;
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++) {
        bool ws = in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r';
        out[i] = ws ? '_' : in[i];
        changed |= ws;
    }
    out[i] = '\0';
    return changed;
}

static void coords(const struct npu_trace_area *a, uint32_t id, uint32_t xyz[3])
{
    uint32_t i = id - a->base;
    xyz[0] = i % a->dim[0];
    i /= a->dim[0];
    xyz[1] = i % a->dim[1];
    xyz[2] = i / a->dim[1];
}

/* SONATA: one population per area, node ids within the area, burst numbers
 * as timestamps.  HDF5 writes a file, never stdout. */
/* An export of a trace that did not end normally still writes what there
 * is, and says so. */
static void warn_ending(const char *path, const struct npu_trace_status *st)
{
    if (!st->complete)
        fprintf(stderr, "npusim: warning: %s is cut short (no end record); exported its %" PRIu32
                " complete bursts\n", path, st->last_burst);
    else if (st->end != NPU_TRACE_END_COMPLETE)
        fprintf(stderr, "npusim: warning: %s: the run %s after burst %" PRIu32 "\n", path,
                st->end == NPU_TRACE_END_INTERRUPTED ? "was interrupted" : "failed",
                st->last_burst);
}

static int export_sonata(const char *path, const char *out_path)
{
    struct npu_err err = { 0 };
    if (!npu_sonata_available(&err))
        return npu_cmd_usage_error("export", "--format=sonata: %s", err.msg);
    if (!out_path)
        return npu_cmd_usage_error("export", "--format=sonata needs -o FILE.h5");

    struct npu_trace_reader *r;
    int rc = npu_trace_reader_open(path, &r, &err);
    if (rc)
        return npu_cmd_fail(&err);
    const struct npu_trace_header *h = npu_trace_reader_header(r);
    const char **names = calloc((size_t)h->n_areas + 1, sizeof(*names));
    struct npu_sonata_writer *w = NULL;
    if (!names) {
        rc = npu_err_set(&err, NPU_E_RESOURCE, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < h->n_areas; i++)
        names[i] = h->areas[i].name;
    if ((rc = npu_sonata_open(out_path, h->n_areas, names, &w, &err)))
        goto done;

    uint32_t burst, n;
    const uint32_t *ids;
    const float *mp;
    uint64_t outside = 0;
    while ((rc = npu_trace_reader_next(r, &burst, &n, &ids, &mp, &err)) == 1) {
        for (uint32_t k = 0; k < n && rc == 1; k++) {
            uint32_t ai = npu_trace_area_find(h, ids[k]);
            if (ai == h->n_areas) {
                outside++;
                continue;
            }
            if (npu_sonata_add(w, ai, (double)burst, ids[k] - h->areas[ai].base, &err))
                rc = err.code;
        }
    }
    if (rc == 0) {
        struct npu_sonata_writer *cw = w;
        w = NULL;
        rc = npu_sonata_close(cw, &err);
    }
    if (rc)
        goto done;
    struct npu_trace_status st;
    npu_trace_reader_status(r, &st);
    if (outside)
        fprintf(stderr, "npusim: warning: %s: %" PRIu64 " fires lie outside every area and are "
                "not in the SONATA file (it has one population per area)\n", path, outside);
    warn_ending(path, &st);
done:
    npu_sonata_abort(w);
    free(names);
    npu_trace_reader_close(r);
    return rc ? npu_cmd_fail(&err) : NPU_OK;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'o' },
        { "probes", no_argument, NULL, 'p' },
        { 0 },
    };
    enum format fmt = FMT_NONE;
    bool probes = false;
    const char *out_path = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                fmt = FMT_CSV;
            else if (strcmp(optarg, "bmtk") == 0)
                fmt = FMT_BMTK;
            else if (strcmp(optarg, "sonata") == 0)
                fmt = FMT_SONATA;
            else
                return npu_cmd_usage_error("export", "unknown format '%s' (csv, bmtk or sonata)",
                                           optarg);
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'p':
            probes = true;
            break;
        default:
            return npu_cmd_usage_error("export", "unknown option or missing value '%s'",
                                       argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return npu_cmd_usage_error("export", "expected one TRACE, got %d arguments",
                                   argc - optind);
    if (fmt == FMT_NONE)
        return npu_cmd_usage_error("export", "--format=csv|bmtk|sonata is required");
    const char *path = argv[optind];
    if (probes && fmt != FMT_CSV)
        return npu_cmd_usage_error("export", "--probes goes with --format=csv");
    if (fmt == FMT_SONATA)
        return export_sonata(path, out_path);

    struct npu_err err = { 0 };
    struct npu_trace_reader *r;
    int rc = npu_trace_reader_open(path, &r, &err);
    if (rc)
        return npu_cmd_fail(&err);
    const struct npu_trace_header *h = npu_trace_reader_header(r);

    /* Opened only once the trace is known good, so a bad trace leaves no
     * empty output file behind. */
    FILE *out = stdout;
    const char *out_name = out_path ? out_path : "stdout";
    if (out_path && !(out = fopen(out_path, "w"))) {
        npu_err_set(&err, NPU_E_IO, "%s: %s", out_path, strerror(errno));
        npu_trace_reader_close(r);
        return npu_cmd_fail(&err);
    }

    pop_name *pop = NULL;
    int werr = 0;
    if (probes && h->n_probes == 0) {
        rc = npu_err_set(&err, NPU_E_USAGE, "%s has no state probes ([record] potentials_of)", path);
        goto done;
    }
    if (probes) {
        fputs("burst,neuron,mp\n", out);
    } else if (fmt == FMT_BMTK) {
        pop = calloc((size_t)h->n_areas + 1, sizeof(*pop));
        if (!pop) {
            npu_err_set(&err, NPU_E_RESOURCE, "out of memory");
            rc = NPU_E_RESOURCE;
            goto done;
        }
        for (uint32_t i = 0; i < h->n_areas; i++)
            if (bmtk_name(h->areas[i].name, pop[i], sizeof(pop[i])))
                fprintf(stderr, "npusim: warning: area '%s' is written as population '%s' "
                        "(bmtk names cannot hold spaces)\n", h->areas[i].name, pop[i]);
        snprintf(pop[h->n_areas], sizeof(pop[0]), "none");
        fputs("timestamps population node_ids\n", out);
    } else {
        fputs("burst,neuron,area,x,y,z,mp\n", out);
    }

    uint32_t burst, n;
    const uint32_t *ids;
    const float *mp;
    bool outside = false;
    while ((rc = npu_trace_reader_next(r, &burst, &n, &ids, &mp, &err)) == 1) {
        const float *pv = npu_trace_reader_probes(r);
        for (uint32_t k = 0; probes && k < h->n_probes; k++)
            fprintf(out, "%" PRIu32 ",%" PRIu32 ",%.9g\n", burst, h->probes[k], (double)pv[k]);
        for (uint32_t k = 0; !probes && k < n; k++) {
            uint32_t ai = npu_trace_area_find(h, ids[k]);
            const struct npu_trace_area *a = ai < h->n_areas ? &h->areas[ai] : NULL;
            outside |= a == NULL;
            if (fmt == FMT_BMTK) {
                fprintf(out, "%" PRIu32 " %s %" PRIu32 "\n", burst, pop[ai],
                        a ? ids[k] - a->base : ids[k]);
                continue;
            }
            fprintf(out, "%" PRIu32 ",%" PRIu32 ",", burst, ids[k]);
            if (a) {
                uint32_t xyz[3];
                coords(a, ids[k], xyz);
                csv_field(out, a->name);
                fprintf(out, ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",", xyz[0], xyz[1], xyz[2]);
            } else {
                fputs(",,,,", out);
            }
            if (mp)
                fprintf(out, "%.9g", (double)mp[k]);
            fputc('\n', out);
        }
        if (ferror(out)) {
            werr = errno ? errno : EIO;
            break;
        }
    }
    if (rc == 1)
        rc = NPU_OK;            /* stopped early by an output error, found below */

done:
    free(pop);
    /* An output error outranks the trace's: the file is what the user gets. */
    if (!werr && ferror(out))
        werr = EIO;
    errno = 0;
    if (out_path) {
        if (fclose(out) != 0 && !werr)
            werr = errno ? errno : EIO;
    } else if (fflush(out) != 0 && !werr) {
        werr = errno ? errno : EIO;
    }
    if (werr) {
        npu_err_set(&err, NPU_E_IO, "%s: write failed: %s", out_name, strerror(werr));
        npu_trace_reader_close(r);
        return npu_cmd_fail(&err);
    }
    if (rc) {
        npu_trace_reader_close(r);
        return npu_cmd_fail(&err);
    }
    struct npu_trace_status st;
    npu_trace_reader_status(r, &st);
    if (outside)
        fprintf(stderr, "npusim: warning: %s: some fires lie outside every area\n", path);
    warn_ending(path, &st);
    npu_trace_reader_close(r);
    return NPU_OK;
}
