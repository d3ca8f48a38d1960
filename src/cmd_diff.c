/* npusim diff: do two traces hold the same fires?
 *
 * Both files are streamed burst by burst, so memory does not depend on the
 * number of bursts.  Only content is compared (the neuron and area layout,
 * ids, potentials); metadata such as backend or program differs between
 * runs that should agree, so it is not.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "trace.h"

#define SHOW_MAX 10                 /* ids and potentials listed per difference */

struct side {
    const char *name;               /* "A" or "B" */
    const char *path;
    struct npu_trace_reader *r;
    const struct npu_trace_header *h;
    int rc;                         /* last next(): 1, 0 or an error */
    uint32_t burst, n;
    const uint32_t *ids;
    const float *mp;
};

struct diff {
    bool quiet;
    bool cmp_mp;
    bool cmp_probes;                /* both record the same probes */
    uint32_t bursts_differ;
    uint32_t first_differ;
    uint32_t probe_bursts_differ;   /* bursts whose probe values differ */
};

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static bool areas_equal(const struct npu_trace_area *a, const struct npu_trace_area *b)
{
    return strcmp(a->name, b->name) == 0 && a->base == b->base && a->count == b->count &&
           a->dim[0] == b->dim[0] && a->dim[1] == b->dim[1] && a->dim[2] == b->dim[2];
}

static void print_area(const char *side, const struct npu_trace_area *a)
{
    printf("    %s: '%s' ids %" PRIu32 "+%" PRIu32 " (%" PRIu32 "x%" PRIu32 "x%" PRIu32 ")\n",
           side, a->name, a->base, a->count, a->dim[0], a->dim[1], a->dim[2]);
}

/* The layouts must agree for the same id to mean the same neuron. */
static bool compare_layout(const struct side *a, const struct side *b, bool quiet)
{
    bool same = true;
    if (a->h->n_neurons != b->h->n_neurons) {
        same = false;
        if (!quiet)
            printf("neuron counts differ: A has %" PRIu32 ", B has %" PRIu32 "\n",
                   a->h->n_neurons, b->h->n_neurons);
    }
    uint32_t na = a->h->n_areas, nb = b->h->n_areas;
    for (uint32_t i = 0; i < na || i < nb; i++) {
        if (i < na && i < nb && areas_equal(&a->h->areas[i], &b->h->areas[i]))
            continue;
        same = false;
        if (quiet)
            break;
        printf("area tables differ (A has %" PRIu32 " areas, B has %" PRIu32 "), first at area %"
               PRIu32 ":\n", na, nb, i);
        if (i < na)
            print_area("A", &a->h->areas[i]);
        if (i < nb)
            print_area("B", &b->h->areas[i]);
        break;
    }
    return same;
}

struct id_list {
    uint32_t count;
    uint32_t shown[SHOW_MAX];
};

static void id_add(struct id_list *l, uint32_t id)
{
    if (l->count < SHOW_MAX)
        l->shown[l->count] = id;
    l->count++;
}

static void print_ids(const char *what, const struct id_list *l)
{
    if (!l->count)
        return;
    printf("  only in %s (%" PRIu32 "):", what, l->count);
    for (uint32_t k = 0; k < l->count && k < SHOW_MAX; k++)
        printf(" %" PRIu32, l->shown[k]);
    printf("%s\n", l->count > SHOW_MAX ? " ..." : "");
}

/* Compares one burst present in both; prints it when it is the first that
 * differs. */
static void compare_burst(struct diff *d, const struct side *a, const struct side *b)
{
    struct id_list only_a = { 0 }, only_b = { 0 };
    uint32_t mp_differ = 0;
    uint32_t mp_id[SHOW_MAX], mp_a[SHOW_MAX], mp_b[SHOW_MAX];
    uint32_t i = 0, k = 0;
    while (i < a->n || k < b->n) {
        if (k == b->n || (i < a->n && a->ids[i] < b->ids[k])) {
            id_add(&only_a, a->ids[i++]);
        } else if (i == a->n || b->ids[k] < a->ids[i]) {
            id_add(&only_b, b->ids[k++]);
        } else {
            if (d->cmp_mp && f2u(a->mp[i]) != f2u(b->mp[k])) {
                if (mp_differ < SHOW_MAX) {
                    mp_id[mp_differ] = a->ids[i];
                    mp_a[mp_differ] = f2u(a->mp[i]);
                    mp_b[mp_differ] = f2u(b->mp[k]);
                }
                mp_differ++;
            }
            i++;
            k++;
        }
    }
    if (!only_a.count && !only_b.count && !mp_differ)
        return;
    if (d->bursts_differ++ > 0 || d->quiet)
        return;
    d->first_differ = a->burst;
    printf("traces differ at burst %" PRIu32 " (A: %" PRIu32 " fires, B: %" PRIu32 " fires):\n",
           a->burst, a->n, b->n);
    print_ids("A", &only_a);
    print_ids("B", &only_b);
    if (mp_differ) {
        printf("  membrane potential differs for %" PRIu32 " neuron%s:\n", mp_differ,
               mp_differ == 1 ? "" : "s");
        for (uint32_t m = 0; m < mp_differ && m < SHOW_MAX; m++) {
            float fa, fb;
            memcpy(&fa, &mp_a[m], sizeof(fa));
            memcpy(&fb, &mp_b[m], sizeof(fb));
            printf("    neuron %" PRIu32 ": A %.9g (0x%08" PRIx32 ")  B %.9g (0x%08" PRIx32 ")\n",
                   mp_id[m], (double)fa, mp_a[m], (double)fb, mp_b[m]);
        }
        if (mp_differ > SHOW_MAX)
            printf("    ...\n");
    }
}

/* Probe potentials after the burst: a backend bug shows here as a drifting
 * mp bursts before it shows as a missed fire, so the first divergence is
 * reported by itself. */
static void compare_probes(struct diff *d, const struct side *a, const struct side *b)
{
    const float *pa = npu_trace_reader_probes(a->r), *pb = npu_trace_reader_probes(b->r);
    uint32_t n = a->h->n_probes, first = n, count = 0;
    for (uint32_t k = 0; k < n; k++)
        if (f2u(pa[k]) != f2u(pb[k])) {
            if (first == n)
                first = k;
            count++;
        }
    if (!count || d->probe_bursts_differ++ > 0 || d->quiet)
        return;
    printf("probe potentials first differ at burst %" PRIu32 ", neuron %" PRIu32
           ": A %.9g (0x%08" PRIx32 ")  B %.9g (0x%08" PRIx32 "); %" PRIu32 " of %" PRIu32
           " probes differ in that burst\n", a->burst, a->h->probes[first], (double)pa[first],
           f2u(pa[first]), (double)pb[first], f2u(pb[first]), count, n);
}

/* True when the side read a burst or reached its end; false on an error
 * (next() returns 1, 0, or an npu_status code >= 2). */
static bool advance(struct side *s, struct npu_err *err)
{
    s->rc = npu_trace_reader_next(s->r, &s->burst, &s->n, &s->ids, &s->mp, err);
    return s->rc == 0 || s->rc == 1;
}

static const char *ending(const struct npu_trace_status *st)
{
    if (!st->complete)
        return "cut short (no end record)";
    if (st->end == NPU_TRACE_END_INTERRUPTED)
        return "interrupted";
    if (st->end == NPU_TRACE_END_ERROR)
        return "ended by an error";
    return "complete";
}

int cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {
        { "quiet", no_argument, NULL, 'q' },
        { 0 },
    };
    struct diff d = { 0 };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        if (c == 'q')
            d.quiet = true;
        else
            return npu_cmd_usage_error("diff", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 2)
        return npu_cmd_usage_error("diff", "expected two traces, got %d arguments", argc - optind);

    struct side a = { .name = "A", .path = argv[optind] };
    struct side b = { .name = "B", .path = argv[optind + 1] };
    struct npu_err err = { 0 };
    int rc = npu_trace_reader_open(a.path, &a.r, &err);
    if (!rc)
        rc = npu_trace_reader_open(b.path, &b.r, &err);
    if (rc) {
        npu_trace_reader_close(a.r);
        return npu_cmd_fail(&err);
    }
    a.h = npu_trace_reader_header(a.r);
    b.h = npu_trace_reader_header(b.r);
    if (!d.quiet) {
        printf("A: %s\nB: %s\n", a.path, b.path);
    }
    bool layout_same = compare_layout(&a, &b, d.quiet);
    d.cmp_mp = a.h->potentials && b.h->potentials;
    if (!d.quiet && a.h->potentials != b.h->potentials)
        printf("note: only %s recorded membrane potentials; comparing neuron ids only\n",
               a.h->potentials ? "A" : "B");
    d.cmp_probes = a.h->n_probes > 0 && a.h->n_probes == b.h->n_probes &&
                   memcmp(a.h->probes, b.h->probes, a.h->n_probes * sizeof(uint32_t)) == 0;
    if (!d.quiet && !d.cmp_probes && (a.h->n_probes || b.h->n_probes))
        printf("note: the traces probe different neurons (A %" PRIu32 ", B %" PRIu32
               "); probes not compared\n", a.h->n_probes, b.h->n_probes);

    /* Lockstep while both have bursts; then drain the longer one, so its
     * length is known and any corruption in it is still found. */
    for (;;) {
        if (!advance(&a, &err) || !advance(&b, &err))
            goto trouble;
        if (a.rc == 0 || b.rc == 0)
            break;
        compare_burst(&d, &a, &b);
        if (d.cmp_probes)
            compare_probes(&d, &a, &b);
    }
    struct side *longer = a.rc ? &a : b.rc ? &b : NULL;
    while (longer && longer->rc == 1)
        if (!advance(longer, &err))
            goto trouble;

    struct npu_trace_status sa, sb;
    npu_trace_reader_status(a.r, &sa);
    npu_trace_reader_status(b.r, &sb);
    bool length_differs = sa.last_burst != sb.last_burst;
    if (!d.quiet) {
        if (length_differs) {
            printf("lengths differ: A has %" PRIu32 " bursts (%s), B has %" PRIu32 " (%s)\n",
                   sa.last_burst, ending(&sa), sb.last_burst, ending(&sb));
            if (!sa.complete || !sb.complete)
                printf("%s cut short; the %" PRIu32 " common bursts were compared\n",
                       !sa.complete && !sb.complete ? "both are" : !sa.complete ? "A is" : "B is",
                       sa.last_burst < sb.last_burst ? sa.last_burst : sb.last_burst);
        } else if (!sa.complete || !sb.complete || sa.end != sb.end) {
            printf("note: both hold %" PRIu32 " bursts, but A is %s and B is %s\n",
                   sa.last_burst, ending(&sa), ending(&sb));
        }
        if (d.bursts_differ)
            printf("%" PRIu32 " of %" PRIu32 " common bursts differ, the first at burst %" PRIu32
                   "\n", d.bursts_differ,
                   sa.last_burst < sb.last_burst ? sa.last_burst : sb.last_burst, d.first_differ);
        if (d.probe_bursts_differ)
            printf("probe potentials differ in %" PRIu32 " bursts\n", d.probe_bursts_differ);
    }
    bool same = layout_same && !length_differs && d.bursts_differ == 0 && d.probe_bursts_differ == 0;
    if (same && !d.quiet)
        printf("same fires: %" PRIu32 " bursts, %" PRIu64 " fires\n", sa.last_burst,
               sa.total_fires);
    npu_trace_reader_close(a.r);
    npu_trace_reader_close(b.r);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        npu_err_set(&err, NPU_E_IO, "stdout: write failed");
        return npu_cmd_fail(&err);
    }
    return same ? NPU_OK : NPU_E_DIFFER;

trouble:
    /* A corrupt or unreadable trace makes the answer unknown, whatever
     * was printed before. */
    npu_trace_reader_close(a.r);
    npu_trace_reader_close(b.r);
    fflush(stdout);
    return npu_cmd_fail(&err);
}
